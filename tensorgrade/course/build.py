"""`tensorgrade build`: an assignment's single source -> the files the runtime and the release use.

From `solutions/<id>/<id>.py` (tensorgrade/course/source.py) it writes, each marked as generated:

    assignments/<id>/assignment.yaml     questions, checks (id, points, visibility), limits: from the
                                         answer cells and the checks' declarations
    assignments/<id>/<id>.ipynb          the template (answer regions as stubs)
    assignments/<id>/checks.py, probes.py    the public checks and probes cells, as they are
    solutions/<id>/solution.ipynb        the reference (the same cells, answers whole)
    solutions/<id>/samples/*.ipynb, expected.yaml    the declared samples and what each must get

Hidden checks, hidden probes, the secret seed and known mistakes are not copied anywhere: the grader
reads them from the source (course/assignment.py). `validate` then grades what was built in the
sandbox: the reference must score full, each known mistake must change some check's outcome (else a
warning names it) and each sample must get its declared score and diagnoses. `build_staged` builds a
generated source (an importer's) into a course all or nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from tensorgrade.course.assignment import PROBES_PREAMBLE, THRESHOLDS_FILE, SpecError, load_assignment
from tensorgrade.course.errors import AuthoringError
from tensorgrade.course.source import STUB, AssignmentSource, answer_notebook, read_source, run_declarations

SPEC_KEYS = ("title", "version", "files", "requires", "public_seed")


@dataclass
class BuildOutcome:
    source: Path
    written: list[Path] = field(default_factory=list)  # files that changed
    stale: list[Path] = field(default_factory=list)  # with check=True: files that would change
    notes: list[str] = field(default_factory=list)  # warnings an instructor should read
    problems: list[str] = field(default_factory=list)  # validation failures


def course_root(source: AssignmentSource) -> Path:
    return source.path.resolve().parent.parent.parent


def _relative(source: AssignmentSource) -> str:
    return f"solutions/{source.id}/{source.path.name}"


def _declared_checks(source: AssignmentSource) -> dict[str, list]:
    return {visibility: run_declarations(source, kind).get("CHECKS", [])
            for visibility, kind in (("public", "checks"), ("hidden", "hidden-checks"))}


def spec_of(source: AssignmentSource, checks: dict[str, list]) -> dict:
    meta = source.meta
    # A question without an answer cell of its own (a constraint on the others' answers, as a1's
    # "NumPy only") is declared in the header: `questions: {q4: "NumPy only"}`.
    answers = {**{q: cell.title for q, cell in source.answers().items()}, **(meta.get("questions") or {})}
    entries, points = [], {question: 0.0 for question in answers}
    for visibility, declared in checks.items():
        for check in declared:
            question = check.id.split(".", 1)[0]
            if question not in answers:
                raise AuthoringError(f"{source.path}: check {check.id} belongs to {question}, which has no answer cell "
                                     f"(`# %% question=\"{question}\"`; questions: {', '.join(answers) or 'none'})")
            points[question] += check.points
            entry = {"id": check.id, "question": question, "points": _number(check.points), "visibility": visibility}
            if check.timeout is not None:
                entry["timeout"] = _number(check.timeout)
            entry["description"] = check.description
            entries.append(entry)
    # Questions in the order of their first cell (a markdown answer or task too); header-only ones last.
    first = {cell.question: cell.index for cell in reversed(source.cells) if cell.question}
    order = sorted(answers, key=lambda q: first.get(q, len(source.cells)))
    lines = {c.id: c.line or 0 for declared in checks.values() for c in declared}
    entries.sort(key=lambda e: (order.index(e["question"]), lines[e["id"]]))  # by question, then as written
    # A question worth 0 is allowed where it has checks (nbgrader's 0-point test cells); none is not.
    declared = {check.id.split(".", 1)[0] for listed in checks.values() for check in listed}
    empty = [q for q in points if q not in declared]
    if empty:
        raise AuthoringError(f"{source.path}: question(s) {empty} have no checks, so they would be worth nothing")
    spec = {"id": source.id, **{key: meta[key] for key in SPEC_KEYS if key in meta},
            "notebook": f"{source.id}.ipynb", "files": meta.get("files", [])}
    spec["version"] = str(meta.get("version", "1.0"))
    spec["worker"] = {"preload": meta.get("preload", ["numpy"])}
    if "limits" in meta:
        spec["limits"] = meta["limits"]
    spec["questions"] = [{"id": q, "title": answers[q], "points": _number(points[q])} for q in order]
    spec["checks"] = entries
    return spec


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _module(source: AssignmentSource, kind: str, what: str, preamble: str) -> str:
    parts = [f'"""{what} of {source.id}, generated by `tensorgrade build` from {_relative(source)}.\n\n'
             'Edit the source, not this file: a test proves this one is up to date."""\n', preamble]
    for cell in source.of_kind(kind):
        parts.append(f"\n# --- cell {cell.index + 1} of the source" + (f" (line {cell.line})" if cell.line else "")
                     + "\n" + cell.source.rstrip() + "\n")
    return "\n".join(parts)


def samples_of(source: AssignmentSource) -> dict[str, nbformat.NotebookNode]:
    declared = run_declarations(source, "samples").get("SAMPLES", [])
    mistakes = {m.name: m for m in run_declarations(source, "mistakes").get("MISTAKES", [])}
    made = {}
    for spec in declared:
        answers = {q: source.reference_answer(q) for q in source.answers()}
        for name in spec.mistakes:
            if name not in mistakes:
                raise AuthoringError(f"{source.path}: sample {spec.name} names the mistake {name!r}, which is not "
                                     f"declared (mistakes: {', '.join(mistakes) or 'none'})")
            for question, edits in mistakes[name].edits.items():
                answers[question] = _apply(answers[question], edits, source, f"sample {spec.name}", question)
        for question, edits in spec.edits.items():
            if question not in answers:
                raise AuthoringError(f"{source.path}: sample {spec.name} edits {question}, which has no answer cell")
            if edits is STUB:
                answers[question] = source.stub(question)
            elif isinstance(edits, str):
                answers[question] = edits
            else:
                answers[question] = _apply(answers[question], edits, source, f"sample {spec.name}", question)
        made[spec.name] = answer_notebook(source, answers)
    return made


def _apply(text: str, edits: dict[str, str], source: AssignmentSource, what: str, question: str) -> str:
    for old, new in edits.items():
        if old not in text:
            raise AuthoringError(f"{source.path}: {what}: {old!r} is not in the answer to {question}")
        text = text.replace(old, new)
    return text


def expectations_of(source: AssignmentSource) -> str:
    lines = [f"# Generated by `tensorgrade build` from {_relative(source)}: what each sample must score, and the",
             "# diagnosis each failing check must carry (tests check both)."]
    for spec in run_declarations(source, "samples").get("SAMPLES", []):
        entry = {"score": _number(spec.score)}
        if spec.diagnoses:
            entry["diagnoses"] = spec.diagnoses
        if spec.errors:
            entry["errors"] = list(spec.errors)
        if spec.integrity is not None:
            entry["integrity"] = list(spec.integrity)
        lines.append(yaml.safe_dump({spec.name: entry}, default_flow_style=None, width=200, sort_keys=False).strip())
    return "\n".join(lines) + "\n"


def _notebook_text(notebook: nbformat.NotebookNode) -> str:
    return nbformat.writes(notebook) + "\n"


def generated_files(source: AssignmentSource) -> dict[Path, str]:
    """Every file the source generates, by path, with its content."""
    root = course_root(source)
    public, solutions = root / "assignments" / source.id, root / "solutions" / source.id
    checks = _declared_checks(source)
    spec = spec_of(source, checks)
    header = f"# Generated by `tensorgrade build` from {_relative(source)}: edit the source, not this file.\n"
    files = {
        public / "assignment.yaml": header + yaml.safe_dump(spec, sort_keys=False, width=120, default_flow_style=None),
        public / f"{source.id}.ipynb": _notebook_text(answer_notebook(source, {q: source.stub(q) for q in source.answers()})),
        public / "checks.py": _module(source, "checks", "Public checks", "import math\nimport re\n\nimport numpy as np\n\n"
                                      "from tensorgrade.authoring import *  # noqa: F401,F403\n\nCHECKS = []\n"),
        public / "probes.py": _module(source, "probes", "Public probes", PROBES_PREAMBLE),
        solutions / "solution.ipynb": _notebook_text(answer_notebook(source, {q: source.reference_answer(q)
                                                                              for q in source.answers()})),
    }
    samples = samples_of(source)
    for name, notebook in samples.items():
        files[solutions / "samples" / f"{name}.ipynb"] = _notebook_text(notebook)
    if samples:
        files[solutions / "samples" / "expected.yaml"] = expectations_of(source)
    # The public checks' thresholds travel with the public files (a release needs them); hidden ones stay.
    computed = solutions / THRESHOLDS_FILE
    public_ids = {c.id for c in checks["public"] if c.threshold is not None and c.threshold.value is None}
    if public_ids and computed.is_file():
        entries = {k: v for k, v in json.loads(computed.read_text()).items() if k in public_ids}
        files[public / THRESHOLDS_FILE] = json.dumps(entries, indent=2, sort_keys=True) + "\n"
    return files


def build(source_path: Path | str, check: bool = False) -> BuildOutcome:
    """Write (or with `check`, compare) the generated files; then load the result as the grader will."""
    source = read_source(source_path)
    outcome = BuildOutcome(source=source.path)
    files = generated_files(source)
    for path, text in files.items():
        if path.is_file() and path.read_text() == text:
            continue
        if check:
            outcome.stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        outcome.written.append(path)
    samples = source.path.resolve().parent / "samples"
    for extra in sorted(samples.glob("*.ipynb")) if samples.is_dir() else []:
        if extra not in files:  # a sample no longer declared
            (outcome.stale.append(extra) if check else (extra.unlink(), outcome.written.append(extra)))
    if not check:
        try:
            load_assignment(course_root(source) / "assignments" / source.id, source.path.parent, thresholds=False)
        except SpecError as exc:
            raise AuthoringError(str(exc)) from None
        missing = [c for c in _threshold_checks(source) if not _threshold_computed(source, c)]
        outcome.notes += [f"{c}: its threshold is derived from the reference: run `tensorgrade thresholds "
                          f"{source.path}`" for c in missing]
    return outcome


def build_staged(root: Path, assignment_id: str, text: str, files: dict[str, Path]) -> list[str]:
    """Build a generated source into the course at `root`, all or nothing; the build's notes.

    The source `text` and the `files` it uses (path in assignments/<id>/ -> the file to copy) are
    written into a temporary course folder under `root` and built there; only when the build and the
    load succeed do that folder's assignments/<id>/ and solutions/<id>/ replace `root`'s. An
    AuthoringError leaves `root` as it was; it and the notes name paths as they are in the course,
    not in the temporary folder."""
    root.mkdir(parents=True, exist_ok=True)
    targets = [root / "assignments" / assignment_id, root / "solutions" / assignment_id]
    with tempfile.TemporaryDirectory(prefix=f".tensorgrade-import-{assignment_id}-", dir=root) as scratch:
        staged = Path(scratch)
        source = staged / "solutions" / assignment_id / f"{assignment_id}.py"
        source.parent.mkdir(parents=True)
        source.write_text(text)
        for relative, origin in files.items():
            target = staged / "assignments" / assignment_id / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, target)
        try:
            built = build(source)
        except AuthoringError as exc:
            raise AuthoringError(str(exc).replace(str(staged) + os.sep, "")) from None
        for target in targets:  # replaced only now (an importer's --force)
            if target.exists():
                shutil.rmtree(target)
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / target.relative_to(root), target)
    return [note.replace(str(staged) + os.sep, "") for note in built.notes]


def _threshold_checks(source: AssignmentSource) -> list[str]:
    return [c.id for declared in _declared_checks(source).values() for c in declared if c.threshold is not None
            and c.threshold.value is None]


def _threshold_computed(source: AssignmentSource, check_id: str) -> bool:
    path = source.path.parent / THRESHOLDS_FILE
    return path.is_file() and check_id in json.loads(path.read_text())


def validate(source_path: Path | str, jobs: int = 2) -> list[str]:
    """Grade what the source built, in the sandbox; the problems and warnings, each naming what it is about:
    the reference must score full, a known mistake that changes no check's outcome is named, every
    sample must get its declared score, diagnoses and errors."""
    from tensorgrade.grading.grader import Grader, silent_mistakes

    source = read_source(source_path)
    root = course_root(source)
    assignment = load_assignment(root / "assignments" / source.id, source.path.parent)
    found: list[str] = []
    with Grader(assignment, jobs=jobs) as grader:
        found += [f"warning: {silent}" for silent in silent_mistakes(assignment, grader.reference, grader.inputs)]
        result = grader.grade(assignment.solution_path)
        # graded by a TA, later (the reference's written answers are the template's: kept in the source)
        awaiting = sum(c.max_points - c.points for c in result.checks if c.details.get("manual"))
        if result.score + awaiting != result.max_score:
            found.append(f"the reference scores {result.score:g}/{result.max_score:g}: " + "; ".join(
                f"{c.id}: {c.message.splitlines()[0] if c.message else c.status}" for c in result.checks
                if c.status != "passed"))
        samples = source.path.parent / "samples"
        expected = yaml.safe_load((samples / "expected.yaml").read_text()) if (samples / "expected.yaml").is_file() else {}
        for name, wanted in (expected or {}).items():
            result = grader.grade(samples / f"{name}.ipynb")
            got = {c.id: c for c in result.checks}
            if result.score != wanted["score"]:
                found.append(f"sample {name}: scores {result.score:g}, declared {wanted['score']:g} ("
                             + ", ".join(f"{c.id} {c.status}" for c in result.checks if c.status != "passed") + ")")
            for check_id, diagnosis in wanted.get("diagnoses", {}).items():
                if check_id not in got or got[check_id].diagnosis != diagnosis:
                    found.append(f"sample {name}: {check_id} is diagnosed "
                                 f"{got[check_id].diagnosis if check_id in got else 'nothing'}, declared {diagnosis}")
            if "integrity" in wanted and result.integrity != wanted["integrity"]:
                found.append(f"sample {name}: integrity findings {result.integrity}, declared {wanted['integrity']}")
            for check_id in wanted.get("errors", []):
                if check_id not in got or got[check_id].status != "error":
                    found.append(f"sample {name}: {check_id} is {got[check_id].status if check_id in got else 'absent'}"
                                 ", declared an error")
    return found
