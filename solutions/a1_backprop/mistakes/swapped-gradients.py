# The gradients of the product are swapped: for a = x * w, da/dx = w and da/dw = x (each input
# gets the other one), so grad_x is w and grad_w is x, not the other way round.
def mul_add_grads(x, w, z):
    grad_x = x
    grad_w = w
    grad_z = np.ones_like(z)
    return grad_x, grad_w, grad_z
