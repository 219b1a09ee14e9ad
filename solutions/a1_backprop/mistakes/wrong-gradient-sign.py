# The gradient has the wrong sign: dL/dy_pred is written 2 * (y - y_pred) instead of
# 2 * (y_pred - y), so every entry of grads is negated and gradient descent climbs the loss until
# the coefficients overflow. (An update written coeffs += learning_rate * grads does the same.)
def poly_loss_and_grads(x, y, coeffs):
    a, b, c, d = coeffs
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = np.square(y_pred - y).sum()
    grad_y_pred = 2.0 * (y - y_pred)
    grads = np.array([
        grad_y_pred.sum(),
        (grad_y_pred * x).sum(),
        (grad_y_pred * x ** 2).sum(),
        (grad_y_pred * x ** 3).sum(),
    ], dtype=np.float64)
    return float(loss), grads
