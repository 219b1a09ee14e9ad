"""Hidden probes for a1_backprop (run inside the sandbox, on the student's namespace)."""

import numpy as np

from tensorgrade.checking.inside.probing import describe_value, need


def mul_add_shapes(ns, inputs):
    mul_add_grads = need(ns, "mul_add_grads")
    results = []
    for case in inputs["cases"]:
        x, w, z = (np.array(case[k]) for k in ("x", "w", "z"))
        grads = mul_add_grads(x, w, z)
        results.append([g if type(g) is np.ndarray else describe_value(g)["type"] for g in grads])
    return {"results": results}


def poly_hidden(ns, inputs):
    poly_loss_and_grads = need(ns, "poly_loss_and_grads")
    loss, grads = poly_loss_and_grads(np.array(inputs["x"]), np.array(inputs["y"]), np.array(inputs["coeffs"]))
    return {"loss": float(loss), "grads": np.asarray(grads, dtype=np.float64)}


def fit(ns, inputs):
    fit_poly = need(ns, "fit_poly")
    coeffs = fit_poly(np.array(inputs["x"]), np.array(inputs["y"]), np.array(inputs["coeffs0"]),
                      learning_rate=inputs["learning_rate"], steps=inputs["steps"])
    return {"coeffs": np.asarray(coeffs, dtype=np.float64)}
