# backward returns the negated derivative, so every gradient that flows through P3 points the
# wrong way. The chain rule gives grad_output * P3'(input), with P3'(x) = 1.5 * (5x^2 - 1).
class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return -grad_output * 1.5 * (5 * input ** 2 - 1)
