# grad_c has the wrong sign, so gradient descent climbs in c and the fit diverges. d/dc of
# sum((y_pred - y)^2) is sum(2 (y_pred - y) x^2).
def poly_grads(x, y, a, b, c, d):
    """Return (loss, grad_a, grad_b, grad_c, grad_d) for loss = sum((a + b x + c x^2 + d x^3 - y)^2)."""
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = np.square(y_pred - y).sum()
    grad_y_pred = 2.0 * (y_pred - y)
    grad_a = grad_y_pred.sum()
    grad_b = (grad_y_pred * x).sum()
    grad_c = -(grad_y_pred * x ** 2).sum()
    grad_d = (grad_y_pred * x ** 3).sum()
    return loss, grad_a, grad_b, grad_c, grad_d


# given: train with your gradients (do not edit)
rng = np.random.default_rng(0)
a, b, c, d = rng.standard_normal(4)
learning_rate = 1e-6
for t in range(2000):
    q1_loss, grad_a, grad_b, grad_c, grad_d = poly_grads(x, y, a, b, c, d)
    a -= learning_rate * grad_a
    b -= learning_rate * grad_b
    c -= learning_rate * grad_c
    d -= learning_rate * grad_d
print(f"q1 loss={q1_loss:.3f}: y = {a:.4f} + {b:.4f} x + {c:.4f} x^2 + {d:.4f} x^3")
