"""Warm-up of a worker: pay import and lazy first-use costs once, before any student code.

Each submission is a fork of the warm worker, so what is imported and used once here (torch, its
optimizers and DataLoader, gradcheck, matplotlib's font cache, the IPython shell, the confinement
libraries) costs nothing per submission.
"""

from __future__ import annotations

import importlib
import sys


class PreloadError(Exception):
    """A module the assignment preloads cannot be imported here: the grading machine lacks it."""

    def __init__(self, module: str, error: str):
        super().__init__(f"{module}: {error}")
        self.module = module
        self.error = error


def warm_up(preload: list[str]) -> None:
    # torch first: its thread settings must come before any op, whatever the other modules do.
    for name in sorted(preload, key=lambda module: module != "torch"):
        try:
            importlib.import_module(name)
        except Exception as exc:  # ImportError, or a library that fails while loading
            raise PreloadError(name, f"{type(exc).__name__}: {exc}") from exc
        if name == "torch":
            import torch

            # Before any op: a child forked after a multi-threaded op would hang on the thread pool.
            torch.set_num_threads(1)
            torch.set_num_interop_threads(1)
        elif name.split(".")[0] == "tensorflow":
            _configure_tensorflow()
    if "torch" in sys.modules:
        _warm_torch()
    if "matplotlib" in sys.modules or "matplotlib.pyplot" in preload:
        _warm_matplotlib()
    from tensorgrade.sandbox.inside import shell

    shell.make_shell()
    _import_what_each_submission_imports()
    # The confinement libraries, so each forked submission does not import them again. (Without them
    # the layers are reported missing, by `doctor` and in every result, never skipped silently.)
    for library in ("landlock", "pyseccomp"):
        try:
            importlib.import_module(library)
        except Exception:
            pass


def _import_what_each_submission_imports() -> None:
    """The grader's modules a submission's process imports before its first cell (the kernel, with
    integrity, audit and probing), the modules the integrity baseline watches (it imports a missing
    one), and, with torch loaded, the vocabulary's probes (each probe module's first line). Imported
    in the submission, they were compiled again for each one (no bytecode is written here): about
    35 ms of CPU and 2,000 page faults per submission on the torchdl bench. A watched module of a
    library the assignment does not preload (torch for a NumPy-only one) is left to the submission."""
    from tensorgrade.sandbox.inside import integrity, kernel  # noqa: F401

    for name in integrity.WATCHED_MODULES:
        if name.split(".")[0] in sys.modules:
            try:
                importlib.import_module(name)
            except Exception:  # the baseline skips a module it cannot import too
                pass
    if "torch" in sys.modules:
        importlib.import_module("tensorgrade.checking.inside.standard_probes")


def _configure_tensorflow() -> None:
    """One thread per pool, set before TensorFlow's runtime exists; and no op here at all: the
    runtime (its thread pools) is created in each forked submission on its first op (about 0.1 s),
    because a runtime created before fork() is not safe to use in the child."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _warm_torch() -> None:
    import torch
    import torch.utils.data

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    data = torch.utils.data.TensorDataset(torch.randn(8, 4), torch.randint(0, 2, (8,)))
    loader = torch.utils.data.DataLoader(data, batch_size=4, shuffle=True)
    for optimizer_class in (torch.optim.SGD, torch.optim.Adam):
        optimizer = optimizer_class(model.parameters(), lr=0.01)
        for images, labels in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        model.eval()(torch.randn(2, 4)).argmax(dim=1)
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda t: (t ** 3).sum(), (x,))
    torch.testing.assert_close(torch.ones(2), torch.ones(2))


def _warm_matplotlib() -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    plt.plot([0, 1], [0, 1])
    fig.savefig(io.BytesIO(), format="png")  # builds the font cache once
    plt.close(fig)
