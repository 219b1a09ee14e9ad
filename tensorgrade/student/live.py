"""The public checks run on the live kernel's namespace: the grader's probes, inputs, judges and
messages, against the reference outputs stored in the release.

What is the same as grading: the inputs (drawn from the release's public seed with
`draw_inputs`, and sent through `transport` as the sandbox receives them), the probe module
(the release's public `probes.py`, loaded as the sandbox's kernel loads it), the seeds each probe
starts from, the probe's output as plain data (a `transport` round trip, as it crosses the
sandbox boundary), and the verdict, message and diagnosis (`grading.grader.judge_probe`).

What is not: no sandbox, no integrity checks, no time limits, and the student's own process: the
verdict is advisory, grading still happens in the sandbox. Checks that need a device install the
grader's simulated GPU (`checking.inside.devicesim`) in this kernel, as they do in the sandbox.
"""

from __future__ import annotations

import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tensorgrade.course.release.student_check import OpenedRelease, open_release
from tensorgrade.grading.grader import draw_all_inputs, judge_probe
from tensorgrade.grading.results import CheckResult
from tensorgrade.sandbox import transport
from tensorgrade.sandbox.host.jobs import ProbeRecord
# The sandbox kernel's own pieces, so a probe runs and fails here as it does at grading: the probe
# module's loader, the per-check seeds, the traceback trimmed to the student's code.
from tensorgrade.sandbox.inside.kernel import _load_probe_module, _seed_everything, trimmed_traceback
from tensorgrade.checking.inside.probing import NotDefined

IPYTHON_CELL = re.compile(r"^<ipython-input-(\d+)-")
CELL_PLACE = re.compile(r"\bcell (\d+)(?=, line)")
FILE_LABELS_FROM = 1_000_000  # indices standing for plain files (scripts), above any execution count


@dataclass
class LiveChecker:
    """One release, opened once per `tg.init()`: its public checks, inputs and probe module."""

    release: OpenedRelease
    folder: Path
    inputs: dict[str, Any] = field(default_factory=dict)
    probe_inputs: dict[str, Any] = field(default_factory=dict)
    modules: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, folder: Path) -> "LiveChecker":
        release = open_release(folder)
        inputs = draw_all_inputs(release.assignment, release.public_seed)
        # The probe gets its inputs as the sandbox does: after the trip through the boundary format
        # (tuples become lists, arrays stay arrays); the judge gets them as drawn, as at grading.
        probe_inputs = {check: transport.loads(transport.dumps(value)) for check, value in inputs.items()}
        modules = {name: _load_probe_module(name, source)
                   for name, source in release.assignment.probe_sources.items() if name == "public"}
        return cls(release=release, folder=folder, inputs=inputs, probe_inputs=probe_inputs, modules=modules)

    @property
    def assignment(self):
        return self.release.assignment

    def public_checks(self, question: str | None = None):
        return [spec for spec in self.assignment.checks
                if spec.visibility == "public" and spec.id in self.assignment.implementations
                and (question is None or spec.question == question)]

    def questions(self) -> list[str]:
        return [q.id for q in self.assignment.questions]

    def run(self, namespace: dict, question: str | None = None,
            cell_files: dict[str, str] | None = None) -> list[CheckResult]:
        """Each public check (of `question`, or all) on `namespace`, judged as at grading."""
        names, labels = _cell_names(cell_files)
        results = []
        for spec in self.public_checks(question):
            record = self._probe(spec, namespace, names)
            result = judge_probe(self.assignment, spec, record, self.release.reference, self.inputs[spec.id])
            result.message = _relabel(result.message, labels)
            results.append(result)
            if record.status == "interrupted":
                break  # the student pressed stop: the remaining checks are not run either
        return results

    def _probe(self, spec, namespace: dict, names: dict[str, int]) -> ProbeRecord:
        implementation = self.assignment.implementations[spec.id]
        module = self.modules[implementation.probe_module or spec.visibility]
        started = time.perf_counter()
        output, error = None, None
        with _grading_conditions(), _rng_kept():
            _seed_everything(spec.id)
            try:
                output = getattr(module, implementation.probe)(namespace, self.probe_inputs[spec.id])
                status = "ok"
            except NotDefined as exc:
                status, error = "not_defined", str(exc)
            except KeyboardInterrupt:
                status, error = "interrupted", "interrupted (the checks were stopped)"
            except BaseException as exc:  # SystemExit included: the student's code, not the checker's
                status, error = "error", trimmed_traceback(exc, names)
        if status == "ok":
            try:  # the plain data the judge sees at grading
                output = transport.loads(transport.dumps(output))
            except (transport.TransportError, TypeError, ValueError) as exc:
                status, output, error = "error", None, f"the result could not be sent to the grader: {exc}"
        return ProbeRecord(status=status, output=output, error=error, seconds=time.perf_counter() - started)


def _cell_names(cell_files: dict[str, str] | None) -> tuple[dict[str, int], dict[int, str]]:
    """Which code files are the student's: the kernel's cells (file name -> execution count, shown
    as `In [N]`) and, outside IPython, the calling script."""
    names: dict[str, int] = {}
    labels: dict[int, str] = {}
    for number, (filename, label) in enumerate((cell_files or {}).items(), start=FILE_LABELS_FROM):
        names[filename] = number
        labels[number] = label
    return names, labels


def ipython_cell_files(shell) -> dict[str, str]:
    """File name -> `In [N]` of each cell this IPython ran (ipykernel names them /tmp/ipykernel_*/...,
    plain IPython <ipython-input-N-...>)."""
    files = {}
    compiler = getattr(shell, "compile", None)
    for filename, number in dict(getattr(compiler, "_filename_map", {}) or {}).items():
        files[filename] = f"In [{number}]"
    import linecache

    for filename in list(linecache.cache):
        found = IPYTHON_CELL.match(filename)
        if found and filename not in files:
            files[filename] = f"In [{found[1]}]"
    return files


def _relabel(message: str, labels: dict[int, str]) -> str:
    return CELL_PLACE.sub(lambda m: labels.get(int(m[1]), m[0]), message)


class _grading_conditions:
    """The torch state probes run in at grading (the sandbox restores it before each probe), the
    student's own put back afterwards."""

    def __enter__(self):
        torch = sys.modules.get("torch")
        self.saved = None
        if torch is not None:
            self.saved = (torch.is_grad_enabled(), torch.get_default_dtype(), torch.is_anomaly_enabled(),
                          torch._C._is_multithreading_enabled())
            torch.set_grad_enabled(True)
            torch.set_default_dtype(torch.float32)
            torch.set_anomaly_enabled(False)
        return self

    def __exit__(self, *exc):
        torch = sys.modules.get("torch")
        if torch is not None and self.saved is not None:
            grad, dtype, anomaly, threads = self.saved
            torch.set_grad_enabled(grad)
            torch.set_default_dtype(dtype)
            torch.set_anomaly_enabled(anomaly)
            # A device check installs the simulated accelerator, which turns autograd's device threads
            # off for the process (devicesim.install); the student's own GPU training gets them back.
            torch._C._set_multithreading_enabled(threads)
        return False


class _rng_kept:
    """Each probe seeds random, NumPy and torch as at grading; the student's generators continue
    afterwards where they were, so checking changes no later cell's random numbers."""

    def __enter__(self):
        self.python = random.getstate()
        numpy = sys.modules.get("numpy")
        torch = sys.modules.get("torch")
        self.numpy = numpy.random.get_state() if numpy is not None else None
        self.torch = torch.random.get_rng_state() if torch is not None else None
        return self

    def __exit__(self, *exc):
        random.setstate(self.python)
        numpy = sys.modules.get("numpy")
        torch = sys.modules.get("torch")
        if self.numpy is not None and numpy is not None:
            numpy.random.set_state(self.numpy)
        if self.torch is not None and torch is not None:
            torch.random.set_rng_state(self.torch)
        return False


__all__ = ["LiveChecker", "ipython_cell_files", "open_release"]
