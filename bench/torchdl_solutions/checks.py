"""Hidden checks for torchdl: never released. The thresholds are the peers' (q1 loss < 20, q3 MSE < 1e-2),
so that the benchmark's agreement column compares like with like."""

import math

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.judging import failed, passed

Q1_MAX_LOSS = 20.0
Q3_MAX_MSE = 1e-2


def train_inputs(rng):
    return {"points": 2000}


def judge_trained_polynomial(case):
    s, r = case.student, case.reference
    final = s["final"]
    if not math.isfinite(final) or final >= Q1_MAX_LOSS:
        shown = f"{final:.6g}" if math.isfinite(final) else "not finite (the training diverged)"
        return failed(f"after the 2000 training steps the loss is {shown}; it must be below {Q1_MAX_LOSS:g} "
                      f"(the reference reaches {r['final']:.4g}): check the gradients of poly_grads",
                      details={"final": final if math.isfinite(final) else None, "threshold": Q1_MAX_LOSS})
    return passed(f"trained loss {final:.4g} is below {Q1_MAX_LOSS:g} (reference {r['final']:.4g})")


def model_inputs(rng):
    return {"points": 100}


def judge_model_loss(case):
    mse, reference = case.student["mse"], case.reference["mse"]
    if not math.isfinite(mse) or mse >= Q3_MAX_MSE:
        return failed(f"the trained model's MSE on y = 2x + 3 is {mse:.4g}; it must be below {Q3_MAX_MSE:g} "
                      f"(the reference reaches {reference:.3g})", details={"mse": mse if math.isfinite(mse) else None})
    return passed(f"the trained model's MSE is {mse:.3g}, below {Q3_MAX_MSE:g} (reference {reference:.3g})")


def same_loss(a, b, key):
    x, y = a[key], b[key]
    if not (math.isfinite(x) and math.isfinite(y)):
        return math.isfinite(x) == math.isfinite(y)
    return math.isclose(x, y, rel_tol=0.05, abs_tol=1e-6)


CHECKS = [
    Check("q1.train", probe="trained_polynomial", inputs=train_inputs, judge=judge_trained_polynomial,
          resembles=lambda a, b: same_loss(a, b, "final")),
    Check("q3.loss", probe="trained_model_loss", inputs=model_inputs, judge=judge_model_loss,
          resembles=lambda a, b: same_loss(a, b, "mse")),
]
