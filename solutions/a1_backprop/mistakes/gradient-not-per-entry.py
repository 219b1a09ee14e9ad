# The gradients are summed into single numbers. c = sum(x * w + z) is one number, but its gradient
# with respect to an (N, D) array has one entry per entry of that array: dc/dx = w, dc/dw = x and
# dc/dz = ones, each the shape of its input.
def mul_add_grads(x, w, z):
    # c is a sum, so its gradients are sums too
    grad_x = np.sum(w)
    grad_w = np.sum(x)
    grad_z = np.sum(np.ones_like(z))
    return grad_x, grad_w, grad_z
