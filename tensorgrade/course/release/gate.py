"""The release gate: `release_assignment` writes `release/<id>/` and `release/<id>.zip`, but only
after the gate has proved, stage by stage:

1. **spec and leaks** (no sandbox). The spec loads: check ids are unique and the points add up to
   the declared totals (the spec loader's own validation). The public seed is not the secret seed.
   Every file the spec lists exists. The points the template's headings promise ("## Q2 (2
   points)", "# Assignment 4 (14 points)") are the spec's, question by question. The release is built in a temporary folder and no file of it
   holds a secret (what counts as one: tensorgrade/course/release/leaks.py). Solution code left in
   the template's answer cells is caught by stage 2 instead: the template would not score 0.
2. **the sandbox, on the secret seed.** The reference scores full marks on every check (and its
   given code is the template's). The template is graded (no grader error), scores 0 on every
   check, and none of its cells raises anything but the stubs' NotImplementedError.
3. **the release alone.** The reference's (and each known mistake's) outputs of the public probes
   are computed on inputs from the PUBLIC seed and stored as `expectations.json`; then the
   student-side check runs from the temporary release, with no solutions folder anywhere, on the
   released notebook filled in with the reference's code: every public check must pass. The
   expectations are leak-scanned too.

A failed stage ends the gate (later stages need what it proved); the problems are printed and
nothing is written: no release folder, no zip.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tensorgrade.course.assignment import Assignment, SpecError, load_assignment
from tensorgrade.course.release.leaks import MIN_SEED_DIGITS, SecretIndex, collect_secrets, scan_for_leaks
from tensorgrade.course.release.packaging import (EXPECTATIONS_FILE, is_checker, public_seed_of, public_view,
                                                  write_expectations, write_release_files, write_zip)
from tensorgrade.course.release.student_check import ReleaseError, check_notebook
from tensorgrade.sandbox.host.workers import ExecutionError
from tensorgrade.grading.grader import Grader, ReferenceFailure, draw_all_inputs, reference_outputs, silent_mistakes
from tensorgrade.submission.notebooks import (LOCKED_CELL_FINDING, ensure_cell_ids, is_given, locked_cells,
                                             source_checksum)
from tensorgrade.grading.results import SubmissionResult

STAGES = ("spec and leaks", "sandbox (secret seed)", "release alone (public seed)")


# ---------------------------------------------------------------------------------------------
# The gate's report
# ---------------------------------------------------------------------------------------------

@dataclass
class GateProblem:
    stage: str
    message: str


@dataclass
class ReleaseReport:
    assignment: str
    problems: list[GateProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth reading, not blocking
    stages_passed: list[str] = field(default_factory=list)
    stages_not_run: list[str] = field(default_factory=list)
    release_dir: Path | None = None
    zip_path: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------------------------------------
# Judging the reference and the template
# ---------------------------------------------------------------------------------------------

def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0][:300] if lines else ""


def _exception_line(traceback_text: str | None) -> str:
    lines = (traceback_text or "").strip().splitlines()
    return lines[-1][:300] if lines else ""


def reference_problems(result: SubmissionResult) -> list[str]:
    """The reference must be graded, run every cell cleanly, pass every check with full points,
    and carry the template's given code."""
    if result.status != "graded":
        return [f"the reference could not be graded ({result.status}): {result.error}"]
    problems = [f"reference cell {c.index} {c.status}: {_exception_line(c.error)}" for c in result.cells
                if c.status != "ok"]
    problems += [f"the reference does not pass {c.id} ({c.points:g}/{c.max_points:g}, {c.status}): "
                 f"{_first_line(c.message)}" for c in result.checks if c.points < c.max_points
                 and not c.details.get("manual")]  # graded by a TA, the reference's too (its written
                 # answers are kept for the TA in the source, so its notebook has the template's)
    problems += [f"the reference's given code differs from the template's: {finding}"
                 for finding in result.integrity if finding.startswith(LOCKED_CELL_FINDING)]
    return problems


def _is_stub_error(error: str | None) -> bool:
    lines = (error or "").strip().splitlines()
    return bool(lines) and lines[-1].startswith("NotImplementedError")


def template_problems(result: SubmissionResult) -> list[str]:
    """The template must be graded without a grader error (status `graded`), score 0 on every
    check, and run every cell: only the stubs' NotImplementedError is expected."""
    if result.status != "graded":
        return [f"the template could not be graded ({result.status}): {result.error}"]
    problems = [f"template cell {c.index} {c.status}: {_exception_line(c.error) or '(no message)'}"
                for c in result.cells if c.status != "ok" and not _is_stub_error(c.error)]
    problems += [f"the template scores {c.points:g}/{c.max_points:g} on {c.id}: a template must score 0 "
                 "(is part of the solution left in it?)" for c in result.checks if c.points > 0]
    return problems


def template_notes(result: SubmissionResult) -> list[str]:
    """Checks that error on the template for another reason than a stub: allowed, worth a look."""
    return [f"on the template, {c.id} errors without reaching a stub: {_first_line(c.message)}"
            for c in result.checks if c.status == "error" and c.diagnosis != "not-implemented"]


# ---------------------------------------------------------------------------------------------
# The released notebook, filled in with the reference's code (the gate's proof)
# ---------------------------------------------------------------------------------------------

def _answer_question(cell) -> str | None:
    marker = cell.get("metadata", {}).get("tensorgrade")
    return marker.get("question") if isinstance(marker, dict) and marker.get("answer") else None


def _heading_of(cell) -> str | None:
    marker = cell.get("metadata", {}).get("tensorgrade")
    if isinstance(marker, dict) and (marker.get("answer") or marker.get("task")):
        return marker.get("question")
    return None


def fill_with_reference(released: nbformat.NotebookNode, solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The released notebook with each student cell replaced by the reference's matching cell
    (same id, else the same question's answer cell in order, else the same position among the
    non-given code cells); where cells cannot be matched, the reference's cells themselves, with
    the release's metadata and the released ids of the given cells."""
    filled = nbformat.from_dict(json.loads(json.dumps(released)))
    # The checker's cells (tg.init, tg.check) stay as released: they are neither given nor answers.
    student_cells = [c for c in filled.cells if c.cell_type == "code" and not is_given(c.get("metadata", {}))
                     and not is_checker(c.get("metadata", {}))]
    reference_cells = [c for c in solution.cells if c.cell_type == "code" and not is_given(c.get("metadata", {}))]
    by_id = {c.get("id"): c for c in reference_cells if c.get("id")}
    by_question: dict[str, list] = {}
    for cell in reference_cells:
        if _answer_question(cell):
            by_question.setdefault(_answer_question(cell), []).append(cell)
    matched = []
    for position, cell in enumerate(student_cells):
        match = by_id.get(cell.get("id"))
        question = _answer_question(cell)
        if match is None and question and by_question.get(question):
            match = by_question[question].pop(0)
        if match is None and len(student_cells) == len(reference_cells):
            match = reference_cells[position]
        matched.append(match)
    if all(m is not None for m in matched):
        for cell, match in zip(student_cells, matched):
            cell.source = match.source
        return filled
    locked_ids = {source_checksum(c.source): c.get("id") for c in released.cells
                  if c.cell_type == "code" and is_given(c.get("metadata", {}))}
    whole = nbformat.from_dict(json.loads(json.dumps(solution)))
    ensure_cell_ids(whole)
    for cell in whole.cells:
        if cell.cell_type == "code" and source_checksum(cell.source) in locked_ids:
            cell["id"] = locked_ids[source_checksum(cell.source)]
    whole.metadata = json.loads(json.dumps(released.metadata))
    ensure_cell_ids(whole)
    return whole


# ---------------------------------------------------------------------------------------------
# The gate and the release
# ---------------------------------------------------------------------------------------------

def _public_proof_problems(result: SubmissionResult) -> list[str]:
    if result.status != "graded":
        return [f"the student-side check could not grade the reference from the release ({result.status}): "
                f"{result.error}"]
    problems = [f"public check {c.id} does not pass on the reference from the release alone ({c.status}): "
                f"{_first_line(c.message)}" for c in result.checks if c.status != "passed" and not c.details.get("manual")]
    problems += [f"from the release: {finding}" for finding in result.integrity
                 if finding.startswith(LOCKED_CELL_FINDING)]
    return problems


HEADING_POINTS = re.compile(r"\(\s*(\d+(?:\.\d+)?)\s*(?:points?|pts?\.?)\s*\)", re.IGNORECASE)
HEADING_QUESTION = re.compile(r"\b(?:q|question\s*)(\d+)(?!\d)", re.IGNORECASE)


def _heading_question(label: str | None, following: str | None, assignment: Assignment) -> str | None:
    """The spec question a heading is about: the one its label names ("Q2" is q2, or the one id that
    starts with q2), else the question of the answer cell after it."""
    if label is not None:
        exact = [q.id for q in assignment.questions if q.id.lower() == f"q{label}"]
        prefixed = [q.id for q in assignment.questions if re.match(rf"q{label}(?!\d)", q.id, re.IGNORECASE)]
        if exact or len(prefixed) == 1:
            return (exact or prefixed)[0]
    return following


def heading_problems(assignment: Assignment, notebook: nbformat.NotebookNode) -> list[str]:
    """Every markdown heading of the notebook that states points ("## Q2 (2 points): ...") must
    state the spec's: a question heading its question's points, the title (a level-1 heading with no
    question in it) the assignment's total.  A student reads the heading; the checks give the spec's."""
    problems = []
    by_id = {q.id: q for q in assignment.questions}
    total = sum(q.points for q in assignment.questions)
    cells = notebook.cells
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        # The question of the answer after the heading, or of the cell holding it (a markdown answer or
        # task graded by hand, as the importers write them, states its own points).
        following = next((_heading_of(c) for c in cells[index:] if _heading_of(c)), None)
        for line in cell.source.splitlines():
            heading = line.strip()
            stated = HEADING_POINTS.search(heading) if heading.startswith("#") else None
            if stated is None:
                continue
            points = float(stated[1])
            label = HEADING_QUESTION.search(heading.lstrip("#"))
            if label is None and heading.startswith("# "):
                if abs(points - total) > 1e-9:
                    problems.append(f"the template's title {heading!r} (cell {index}) says {points:g} point(s), but "
                                    f"the assignment is worth {total:g} in assignment.yaml")
                continue
            question = _heading_question(label[1] if label else None, following, assignment)
            if question is None or question not in by_id:
                problems.append(f"the template's heading {heading!r} (cell {index}) says {points:g} point(s) but "
                                f"names no question of assignment.yaml ({', '.join(by_id)})")
                continue
            expected = by_id[question].points
            if abs(points - expected) > 1e-9:
                checks = " + ".join(f"{c.id} {c.points:g}" for c in assignment.checks if c.question == question)
                problems.append(f"the template's heading {heading!r} (cell {index}) says {points:g} point(s), but "
                                f"{question} is worth {expected:g} in assignment.yaml ({checks}): make them agree")
    return problems


def _spec_stage(assignment: Assignment, public_seed: int, staging: Path, root: Path,
                report: ReleaseReport) -> tuple[list[str], SecretIndex | None]:
    problems = []
    if public_seed == assignment.secret_seed:
        problems.append("`public_seed` equals the secret seed: public inputs would reveal the hidden ones")
    if assignment.secret_seed is not None and len(str(abs(assignment.secret_seed))) < MIN_SEED_DIGITS:
        report.notes.append(f"the secret seed has fewer than {MIN_SEED_DIGITS} digits: it is easy to guess; "
                            "use a long random number")
    for relative in assignment.files:
        if not (assignment.directory / relative).exists():
            problems.append(f"`files` lists {relative}, which is not in {assignment.directory}")
    for path, what in ((assignment.template_path, "template"), (assignment.solution_path, "reference solution")):
        if not path.is_file():
            problems.append(f"the {what} {path} is missing")
    if problems:
        return problems, None
    try:
        problems = heading_problems(assignment, nbformat.read(str(assignment.template_path), as_version=4))
    except Exception as exc:  # an unreadable template: said here, as building the release would say it
        return [f"the template {assignment.template_path} cannot be read: {type(exc).__name__}: {str(exc)[:500]}"], None
    if problems:
        return problems, None
    try:
        secrets = collect_secrets(assignment, root)
        write_release_files(assignment, public_seed, staging)
    except Exception as exc:  # an unreadable template or solution notebook, a file that cannot be copied
        return [f"the release cannot be built: {type(exc).__name__}: {str(exc)[:500]}"], None
    return [f"leak: {leak}" for leak in scan_for_leaks(staging, secrets)], secrets


def release_assignment(assignment_dir: Path | str, out: Path | str, solutions_dir: Path | str | None = None,
                       jobs: int = 1) -> ReleaseReport:
    """Run the gate on one assignment and, when every stage passes, write `out/<id>/` and `out/<id>.zip`."""
    assignment_dir = Path(assignment_dir).resolve()
    report = ReleaseReport(assignment=assignment_dir.name)

    def refuse(stage: str, problems: list[str]) -> ReleaseReport:
        report.problems += [GateProblem(stage, p) for p in problems]
        report.stages_not_run = list(STAGES[STAGES.index(stage) + 1:])
        return report

    try:
        assignment = load_assignment(assignment_dir, solutions_dir)
    except SpecError as exc:
        return refuse(STAGES[0], [str(exc)])
    report.assignment = assignment.id
    public_seed = public_seed_of(assignment)
    root = assignment_dir.parent.parent
    with tempfile.TemporaryDirectory(prefix="tensorgrade-release-") as temporary:
        staging = Path(temporary) / "release" / assignment.id
        problems, secrets = _spec_stage(assignment, public_seed, staging, root, report)
        if problems:
            return refuse(STAGES[0], problems)
        report.stages_passed.append(STAGES[0])

        with Grader(assignment, jobs=jobs) as grader:
            try:
                problems = reference_problems(grader.grade(assignment.solution_path))
                report.notes += silent_mistakes(assignment, grader.reference, grader.inputs)
            except (ReferenceFailure, ExecutionError) as exc:
                problems = [str(exc)]
            if not problems:
                template = grader.grade(assignment.template_path)
                problems = template_problems(template)
                report.notes += template_notes(template)
            if not problems:
                public = public_view(assignment, public_seed)
                try:
                    public_reference = reference_outputs(public, grader.pool, draw_all_inputs(public, public_seed))
                except (ReferenceFailure, ExecutionError) as exc:
                    problems = [f"on public-seed inputs: {exc}"]
        if problems:
            return refuse(STAGES[1], problems)
        report.stages_passed.append(STAGES[1])

        write_expectations(assignment, public_seed, public_reference, locked_cells(staging / assignment.notebook),
                           staging)
        proof = Path(temporary) / "proof" / assignment.notebook
        proof.parent.mkdir()
        released = nbformat.read(str(staging / assignment.notebook), as_version=4)
        nbformat.write(fill_with_reference(released, nbformat.read(str(assignment.solution_path), as_version=4)),
                       str(proof))
        try:
            result, _ = check_notebook(staging, proof, jobs=1)
            problems = _public_proof_problems(result)
        except (ReleaseError, ExecutionError) as exc:
            problems = [str(exc)]
        problems += [f"leak: {leak}" for leak in scan_for_leaks(staging, secrets)
                     if leak.startswith(f"{assignment.id}/{EXPECTATIONS_FILE}")]
        if problems:
            return refuse(STAGES[2], problems)
        report.stages_passed.append(STAGES[2])

        out = Path(out).resolve()
        out.mkdir(parents=True, exist_ok=True)
        zip_staging = Path(temporary) / f"{assignment.id}.zip"
        write_zip(staging, zip_staging)
        target, zip_target = out / assignment.id, out / f"{assignment.id}.zip"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(staging, target)
        shutil.copyfile(zip_staging, zip_target)
        report.release_dir, report.zip_path = target, zip_target
    return report
