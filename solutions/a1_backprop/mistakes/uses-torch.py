# The gradient is computed by torch's autograd instead of by hand. The numbers are right, but this
# assignment is about writing the chain rule yourself with NumPy: no torch inside these functions.
import torch


def poly_loss_and_grads(x, y, coeffs):
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    c = torch.tensor(coeffs, dtype=torch.float64, requires_grad=True)
    y_pred = c[0] + c[1] * x_t + c[2] * x_t ** 2 + c[3] * x_t ** 3
    loss = ((y_pred - y_t) ** 2).sum()
    loss.backward()
    return loss.item(), c.grad.numpy()
