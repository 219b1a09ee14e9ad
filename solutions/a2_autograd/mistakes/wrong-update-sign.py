# The update climbs the gradient (p += lr * p.grad) instead of descending it, so the loss grows.
# Gradient descent subtracts: p -= learning_rate * p.grad.
def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    a = torch.full((), 0.0, dtype=x.dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=x.dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=x.dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=x.dtype, requires_grad=True)
    losses = []
    for _ in range(steps):
        y_pred = a + b * LegendrePolynomial3.apply(c + d * x)
        loss = ((y_pred - y) ** 2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for parameter in (a, b, c, d):
                parameter += learning_rate * parameter.grad
                parameter.grad = None
    return {"a": a.item(), "b": b.item(), "c": c.item(), "d": d.item()}, losses
