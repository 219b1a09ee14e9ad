# backward drops the constant factor 1.5 of P3'(x) = 1.5 (5x^2 - 1), so every gradient is two
# thirds of the right one.
class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * (5 * input ** 2 - 1)
