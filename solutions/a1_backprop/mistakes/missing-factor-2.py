# The factor 2 of the derivative of the square is missing: d/dy_pred (y_pred - y)^2 is
# 2 * (y_pred - y), not (y_pred - y), so every gradient is half the right one.
def poly_loss_and_grads(x, y, coeffs):
    a, b, c, d = coeffs
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = np.square(y_pred - y).sum()
    grad_y_pred = y_pred - y
    grads = np.array([
        grad_y_pred.sum(),
        (grad_y_pred * x).sum(),
        (grad_y_pred * x ** 2).sum(),
        (grad_y_pred * x ** 3).sum(),
    ], dtype=np.float64)
    return float(loss), grads
