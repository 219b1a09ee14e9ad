# Gradients are never reset between steps, so each step applies the sum of every gradient so far
# and the fit oscillates or diverges. Reset them after each update (p.grad = None or p.grad.zero_()).
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
                parameter -= learning_rate * parameter.grad
    return {"a": a.item(), "b": b.item(), "c": c.item(), "d": d.item()}, losses
