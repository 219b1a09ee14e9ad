# fit_poly updates the caller's coeffs0 in place: coeffs = coeffs0 makes a second name for the
# same array, not a copy, so coeffs -= ... changes coeffs0 too. Start from a copy:
# coeffs = np.array(coeffs0, dtype=np.float64).
def fit_poly(x, y, coeffs0, learning_rate=1e-6, steps=2000):
    coeffs = coeffs0
    for _ in range(steps):
        _, grads = poly_loss_and_grads(x, y, coeffs)
        coeffs -= learning_rate * grads
    return coeffs
