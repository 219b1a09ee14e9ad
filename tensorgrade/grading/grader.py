"""Grading one submission: notebook -> job -> execution record -> verdicts -> result.

The reference solution (and each known-mistake variant of it) runs through the very same sandbox
and probes on the very same inputs; its outputs are cached per assignment fingerprint (version,
secret seed, and the content of the spec, checks, probes, solution and mistakes).
"""

from __future__ import annotations

import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tensorgrade.sandbox import transport
from tensorgrade.course.assignment import Assignment, CheckSpec
from tensorgrade.checking.checks import draw_inputs
from tensorgrade.sandbox.host.jobs import ExecutionRecord, ExecutionSettings, Job, ProbeRecord, ProbeRequest
from tensorgrade.sandbox.host.workers import ExecutionError, GraderEnvironmentError, WorkerPool
from tensorgrade.sandbox.protocol import GRADER_CALL_PREFIX, UNSENDABLE_PREFIX
from tensorgrade.checking.outside.judging import JudgeCase, Verdict
from tensorgrade.checking.vocabulary_manual import AWAITING, is_manual, left_blank
from tensorgrade.submission.notebooks import (InvalidNotebook, LockedCell, from_this_release, identity_findings, locked_cells,
                                  read_notebook, restore_locked_cells)
from tensorgrade.grading.results import CellResult, CheckResult, SubmissionResult


class ReferenceFailure(RuntimeError):
    """The reference solution does not pass its own probes: the assignment cannot be graded."""


@dataclass
class ReferenceOutputs:
    fingerprint: str
    reference: dict[str, ProbeRecord]
    mistakes: dict[str, dict[str, ProbeRecord]] = field(default_factory=dict)
    seconds: float = 0.0


def gradable_checks(assignment: Assignment) -> list[CheckSpec]:
    """The checks whose code is loaded: every check at grading, the public ones in a student's release."""
    return [spec for spec in assignment.checks if spec.id in assignment.implementations]


def draw_all_inputs(assignment: Assignment, seed: int) -> dict[str, Any]:
    return {spec.id: draw_inputs(assignment.implementations[spec.id], seed) for spec in gradable_checks(assignment)}


def build_job(assignment: Assignment, cells: list[tuple[int, str]], inputs: dict[str, Any]) -> Job:
    probes = [ProbeRequest(check=spec.id,
                           module=assignment.implementations[spec.id].probe_module or spec.visibility,
                           probe=assignment.implementations[spec.id].probe,
                           inputs=inputs[spec.id], timeout=spec.timeout, visibility=spec.visibility)
              for spec in gradable_checks(assignment)]
    return Job(cells=cells, probe_sources=dict(assignment.probe_sources), probes=probes,
               files=list(assignment.files),
               settings=ExecutionSettings(cell_timeout=assignment.cell_timeout,
                                          submission_timeout=assignment.submission_timeout,
                                          limits=assignment.limits))


def _records_to_json(records: dict[str, ProbeRecord]) -> dict:
    return {check: {"status": r.status, "output": r.output, "error": r.error, "seconds": r.seconds}
            for check, r in records.items()}


def _records_from_json(data: dict) -> dict[str, ProbeRecord]:
    return {check: ProbeRecord(**record) for check, record in data.items()}


def reference_outputs(assignment: Assignment, pool: WorkerPool, inputs: dict[str, Any],
                      use_cache: bool = True) -> ReferenceOutputs:
    """The reference's (and every mistake variant's) probe outputs, from cache when unchanged."""
    fingerprint = assignment.fingerprint()
    cache = assignment.solutions_dir / ".cache" / f"reference-{fingerprint}.json"
    if use_cache and cache.is_file():
        data = transport.loads(cache.read_bytes())
        return ReferenceOutputs(fingerprint, _records_from_json(data["reference"]),
                                {name: _records_from_json(m) for name, m in data["mistakes"].items()},
                                seconds=0.0)
    started = time.perf_counter()
    solution = read_notebook(assignment.solution_path)
    next_index = max((i for i, _ in solution.cells), default=0) + 1
    variants = {None: solution.cells}
    for mistake in assignment.mistakes:
        variants[mistake.name] = [*solution.cells, (next_index, mistake.source)]
    with ThreadPoolExecutor(max_workers=len(pool.workers)) as executor:
        futures = {name: executor.submit(pool.run, build_job(assignment, cells, inputs))
                   for name, cells in variants.items()}
        records = {name: future.result() for name, future in futures.items()}
        # A variant whose cells did not all run (a cell past its time limit on a loaded machine) is
        # not that mistake's behaviour: run it once more, and never cache a run that did not complete.
        again = {name: executor.submit(pool.run, build_job(assignment, variants[name], inputs))
                 for name, record in records.items() if name is not None and _cell_problems(record)}
        records.update({name: future.result() for name, future in again.items()})
    broken = {name: _cell_problems(record) for name, record in records.items() if name is not None}
    broken = {name: problems for name, problems in broken.items() if problems}
    if broken:
        raise ReferenceFailure(f"{assignment.solutions_dir}: known mistake(s) whose cells do not run cleanly, twice: "
                               + "; ".join(f"{name}: {problems[0][:300]}" for name, problems in broken.items()))
    reference = records.pop(None)
    problems = [f"{cell.index}: {cell.error}" for cell in reference.cells if cell.status != "ok"]
    problems += [f"{check}: {probe.status}: {probe.error}" for check, probe in reference.probes.items()
                 if probe.status != "ok"]
    if problems:
        raise ReferenceFailure(f"{assignment.solution_path}: the reference solution does not run cleanly:\n  "
                               + "\n  ".join(p[:800] for p in problems))
    result = ReferenceOutputs(fingerprint, reference.probes,
                              {name: record.probes for name, record in records.items()},
                              seconds=time.perf_counter() - started)
    cache.parent.mkdir(exist_ok=True)
    # Written whole then renamed: graders on several cluster workers may compute it at once.
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    partial.write_text(transport.dumps({"reference": _records_to_json(result.reference),
                                        "mistakes": {n: _records_to_json(m) for n, m in result.mistakes.items()}}))
    os.replace(partial, cache)
    return result


def _cell_problems(record: ExecutionRecord) -> list[str]:
    return [f"cell {cell.index}: {cell.status}: {cell.error}" for cell in record.cells if cell.status != "ok"]


class Grader:
    """Grades notebooks of one assignment; holds the pool, the inputs and the reference outputs.

    `grade` is thread-safe: with `jobs` workers, up to `jobs` submissions run at once.
    By default inputs come from the assignment's secret seed and the reference is computed (or
    read from cache); a student-side check passes a public `seed` and precomputed `reference`.
    """

    def __init__(self, assignment: Assignment, jobs: int = 1, use_cache: bool = True,
                 seed: int | None = None, reference: ReferenceOutputs | None = None,
                 locked: list[LockedCell] | None = None):
        seed = assignment.secret_seed if seed is None else seed
        if seed is None:
            raise ValueError(f"{assignment.id}: grading needs the solutions folder (secret seed, reference)")
        self.assignment = assignment
        self.pool = WorkerPool(assignment.directory, assignment.preload, size=jobs)
        self.inputs = draw_all_inputs(assignment, seed)
        self.use_cache = use_cache
        self._reference = reference
        self._reference_failure: ExecutionError | None = None
        self._reference_lock = threading.Lock()
        # Given code as released: a changed copy in a submission is reported and replaced by this.
        if locked is None:
            locked = locked_cells(assignment.template_path) if assignment.template_path.is_file() else []
        self.locked = locked

    @property
    def reference(self) -> ReferenceOutputs:
        with self._reference_lock:
            # A reference the grader's side could not run (pool.run has already retried it on a fresh
            # worker) stays failed for this grader: every submission is that error at once, instead of
            # each paying the reference's and every mistake's failing runs again.
            if self._reference_failure is not None:
                failure = self._reference_failure
                raise type(failure)(str(failure))  # of its class: a missing preload stops a batch (exit 2)
            if self._reference is None:
                try:
                    self._reference = reference_outputs(self.assignment, self.pool, self.inputs, self.use_cache)
                except GraderEnvironmentError as exc:  # its own message names the missing module
                    self._reference_failure = exc
                    raise
                except ExecutionError as exc:
                    self._reference_failure = ExecutionError(f"the reference solution could not run: {exc}")
                    raise self._reference_failure from None
            return self._reference

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> "Grader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def grade(self, path: Path | str) -> SubmissionResult:
        started = time.perf_counter()
        assignment = self.assignment
        result = SubmissionResult(submission=str(path), assignment=assignment.id, version=assignment.version,
                                  status="graded",
                                  max_score=sum(spec.points for spec in gradable_checks(assignment)))
        try:
            notebook = read_notebook(path)
        except InvalidNotebook as exc:
            result.status, result.error = "invalid", f"{path}: {exc}"
            result.timing = {"total": time.perf_counter() - started}
            return result
        try:
            reference = self.reference
        except ExecutionError as exc:  # e.g. a module the assignment preloads is missing here
            result.status, result.error = "error", f"grader error (not the student's fault, regrade): {exc}"
            result.timing = {"total": time.perf_counter() - started}
            return result
        cells, findings = restore_locked_cells(notebook, self.locked,
                                               report_missing=from_this_release(notebook, assignment.id))
        findings = identity_findings(notebook, assignment.id, assignment.version) + findings
        try:
            record = self.pool.run(build_job(assignment, cells, self.inputs))
        except ExecutionError as exc:
            result.status, result.error = "error", f"grader error (not the student's fault, regrade): {exc}"
            result.timing = {"total": time.perf_counter() - started}
            return result
        result.cells = [CellResult(index=c.index, status=c.status, error=c.error, seconds=c.seconds,
                                   output=c.output) for c in record.cells]
        result.cells += [CellResult(index=index, status="error", error=reason) for index, reason in notebook.refused.items()]
        result.cells.sort(key=lambda cell: cell.index)
        result.checks = [self._judge(spec, record, reference) for spec in gradable_checks(assignment)]
        self._blank_answers(path, result)
        result.score = round(sum(c.points for c in result.checks), 6)
        result.integrity = findings + list(record.integrity)
        if record.aborted:
            result.integrity.append(f"execution stopped early: {record.aborted}")
        if record.output_dropped:
            result.integrity.append(f"{record.output_dropped} bytes of printed output were dropped (over the cap)")
        result.isolation = self.pool.isolation_field(record)
        result.timing = {"total": time.perf_counter() - started, "execution": record.seconds,
                         "cells": sum(c.seconds for c in record.cells),
                         "checks": sum(p.seconds for p in record.probes.values())}
        return result

    def _blank_answers(self, path: Path | str, result: SubmissionResult) -> None:
        """A manual question whose answer is the template's, unchanged, gets 0 without a TA (nbgrader's rule)."""
        waiting = [c for c in result.checks if c.status == "manual" and (self.inputs.get(c.id) or {}).get("_blank")
                   is not None]
        if not waiting:
            return
        import nbformat

        try:
            cells = nbformat.read(str(path), as_version=4).cells
        except Exception:  # noqa: BLE001 (it was read once already; a TA grades it then)
            return
        for check in waiting:
            if left_blank(check.id, self.inputs[check.id], cells):
                check.status, check.details = "failed", {"manual": True, "blank": True}
                check.message = "no answer: the answer cell is the template's, unchanged (0 without a TA, as in nbgrader)"

    def _judge(self, spec: CheckSpec, record: ExecutionRecord, reference: ReferenceOutputs) -> CheckResult:
        return judge_probe(self.assignment, spec, record.probes.get(spec.id) or ProbeRecord("missing"), reference,
                           self.inputs[spec.id],
                           lambda: failed_cells(record))


# ---------------------------------------------------------------------------------------------
# Verdicts: one probe's output -> a check's result. Shared by grading and by the student-side
# checker (tensorgrade.student), which runs the same probes in the student's own kernel, so both
# give the same points, messages and diagnoses.
# ---------------------------------------------------------------------------------------------

def judge_probe(assignment: Assignment, spec: CheckSpec, probe: ProbeRecord, reference: ReferenceOutputs,
                inputs: Any, failing_cells: Callable[[], list[str]] = list) -> CheckResult:
    """The check's result from its probe record; `failing_cells` gives "cell N failed: ..." lines,
    the likely reason a name is not defined."""
    base = dict(id=spec.id, question=spec.question, max_points=spec.points, visibility=spec.visibility)
    if is_manual(assignment.implementations.get(spec.id)):  # graded by a TA: whatever the notebook did
        return CheckResult(**base, points=0.0, status="manual", message=AWAITING, diagnosis=None,
                           details={"manual": True})
    if probe.status == "ok":
        verdict = verdict_of(assignment, spec, probe.output, reference.reference[spec.id].output, inputs)
        if not verdict.passed and verdict.diagnosis is None:
            verdict.diagnosis = match_mistake(assignment, spec, probe.output, reference, inputs)
        return CheckResult(**base, points=spec.points * verdict.fraction if verdict.passed else 0.0,
                           status="passed" if verdict.passed else "failed",
                           message=verdict.message or ("ok" if verdict.passed else "failed"),
                           diagnosis=verdict.diagnosis, details=verdict.details)
    if probe.status == "not_defined":
        message = probe.error or "not defined"
        failing = failing_cells()
        if failing:  # the likely reason: a cell that should have defined it failed
            message += "; " + "; ".join(failing[:2]) + (f" (+{len(failing) - 2} more)" if len(failing) > 2 else "")
        return CheckResult(**base, points=0.0, status="failed", message=message, diagnosis="not-defined")
    if probe.status == "timeout":
        return CheckResult(**base, points=0.0, status="timeout", message=probe.error or "time limit reached",
                           diagnosis=None)
    error = probe.error or "the check did not run"
    lines, last_line, _ = error_lines(error)
    if last_line.startswith("NotImplementedError"):
        return CheckResult(**base, points=0.0, status="error", diagnosis="not-implemented",
                           message="not implemented yet: the function still raises NotImplementedError "
                                   "(the template's stub); replace the stub with your code")
    if probe.status == "error" and error.startswith(UNSENDABLE_PREFIX):  # the kernel's sentence, as it is
        return CheckResult(**base, points=0.0, status="error", message=error, diagnosis=None)
    if probe.status == "error":
        frames = student_frames(error)
        place = f" ({frames[-1][0]})" if frames else ""  # where it raised: the innermost of the student's frames
        if lines and lines[0].startswith(GRADER_CALL_PREFIX):
            call = lines[0][len(GRADER_CALL_PREFIX):]
            entered = _function_named(frames[0][1]) if frames else None  # what the grader's call reached first
            if entered:
                summary = f"the grader called {call}, which called your `{entered}()`; it raised {last_line}{place}"
            elif frames:
                summary = f"the grader called {call}, which ran your code{place}: it raised {last_line}"
            else:
                summary = f"the grader called {call} on what your code returned: it raised {last_line}"
        else:
            summary = f"your code raised {last_line}{place}"
        return CheckResult(**base, points=0.0, status="error", message=f"{summary}\n{error}", diagnosis=None)
    return CheckResult(**base, points=0.0, status="error", message=error, diagnosis=None)


def verdict_of(assignment: Assignment, spec: CheckSpec, student: Any, expected: Any, inputs: Any) -> Verdict:
    judge = assignment.implementations[spec.id].judge
    try:
        return judge(JudgeCase(student=student, reference=expected, inputs=inputs))
    except Exception as exc:  # the student returned data of a form the judge did not foresee
        return Verdict(False, f"the returned value has an unexpected form and could not be compared "
                              f"({type(exc).__name__}: {exc})")


def _resembles(assignment: Assignment, spec: CheckSpec, output: Any, other: Any, inputs: Any) -> bool:
    resembles = assignment.implementations[spec.id].resembles
    if resembles is None:
        return verdict_of(assignment, spec, output, other, inputs).passed
    try:
        return bool(resembles(output, other))
    except Exception:
        return False


def match_mistake(assignment: Assignment, spec: CheckSpec, student: Any, reference: ReferenceOutputs,
                  inputs: Any) -> str | None:
    """Name the known mistake whose outputs the student's reproduce, if any."""
    for name, outputs in reference.mistakes.items():
        variant = outputs.get(spec.id)
        if variant is None or variant.status != "ok":
            continue
        if _resembles(assignment, spec, variant.output, reference.reference[spec.id].output, inputs):
            continue  # this mistake does not show on this check
        if _resembles(assignment, spec, student, variant.output, inputs):
            return name
    return None


def silent_mistakes(assignment: Assignment, reference: ReferenceOutputs, inputs: dict[str, Any]) -> list[str]:
    """The known mistakes no check tells from the reference (every check passes the variant): each can
    never be named in a diagnosis, which the instructor must hear about (build, release)."""
    silent = []
    for name, records in reference.mistakes.items():
        if not any(records.get(spec.id) is None or records[spec.id].status != "ok"
                   or not verdict_of(assignment, spec, records[spec.id].output, reference.reference[spec.id].output,
                                     inputs[spec.id]).passed
                   for spec in gradable_checks(assignment)):
            silent.append(f"mistake {name}: no check's outcome changes with it (every check passes the variant), "
                          "so no diagnosis can name it: add a check that tells it from the reference, or drop it")
    return silent


def error_lines(error: str) -> tuple[list[str], str, str | None]:
    """An error's lines (split on newlines only: a carriage return of the student's is not a line of
    the grader's), its last line that is not the grader's hint, and that hint (`[grader] ...`)."""
    lines = [line.strip() for line in error.strip().split("\n") if line.strip()]
    hint = lines[-1] if lines and lines[-1].startswith("[grader]") else None
    return lines, next((line for line in reversed(lines) if not line.startswith("[grader]")), ""), hint


# A frame of the student's in a kernel traceback (sandbox/inside/kernel.py trimmed_traceback): its
# location line, two spaces in, then its source line, four spaces in.
_TRACEBACK_HEADER = "Traceback (most recent call last, your code only):"
_FRAME_LOCATION = re.compile(r"  (cell \d+, line \d+), in (.*)")
_MAX_FUNCTION_NAME = 60


def student_frames(error: str) -> list[tuple[str, str]]:
    """The student's frames of a kernel traceback, outermost first: ("cell N, line M", function name).

    Only the frame lines right after the traceback's header count: not a source line that starts
    with "cell " (`cell = cells[0]`), nor a line of the exception's message made to look like a
    frame. Without the header (a very deep traceback, its front cut off at the kernel's cap) the
    frames start at the first line or, that one being a cut-off fragment, the second; there an
    exception with no frames of the student's and a message whose second line looks like one could
    pass for a frame, which misleads only its author (the text is escaped like all of theirs)."""
    lines = error.split("\n")
    if _TRACEBACK_HEADER in lines:
        candidates = [lines[lines.index(_TRACEBACK_HEADER) + 1:]]
    else:
        candidates = [lines, lines[1:]]
    for rest in candidates:
        frames = []
        for line in rest:
            found = _FRAME_LOCATION.fullmatch(line)
            if found:
                frames.append((found.group(1), found.group(2)))
            elif not (frames and line.startswith("    ")):  # past the frames: the exception itself
                break
        if frames:
            return frames
    return []


def _function_named(name: str) -> str | None:
    """A frame's function as a message names it, or None where there is no function to name (module
    level, a lambda, a comprehension) or the name is not an identifier (a code object can be renamed
    to anything). Student text either way: escaped where a person reads it, like the rest of the message."""
    if not name.isidentifier():
        return None
    return name if len(name) <= _MAX_FUNCTION_NAME else name[:_MAX_FUNCTION_NAME - 1] + "…"


def failed_cells(record: ExecutionRecord) -> list[str]:
    """"cell N failed: <its error>" for each cell that raised (the error's last line, with the grader's
    hint about the environment where there is one: a module it lacks, no network)."""
    found = []
    for cell in record.cells:
        if cell.status != "error" or not cell.error:
            continue
        _, error, hint = error_lines(cell.error)
        if error.startswith("NotImplementedError"):
            continue  # a stub left: its own diagnosis says so
        found.append(f"cell {cell.index} failed: {error}" + (f" {hint}" if hint else ""))
    return found


def grade_notebooks(assignment: Assignment, paths: list[Path], jobs: int = 1) -> list[SubmissionResult]:
    with Grader(assignment, jobs=jobs) as grader:
        if jobs <= 1:
            return [grader.grade(p) for p in paths]
        with ThreadPoolExecutor(max_workers=jobs) as executor:
            return list(executor.map(grader.grade, paths))
