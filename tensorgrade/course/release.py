"""Instructor releases: from an assignment and its reference to a validated student release.

    tensorgrade release assignments/<id> --out release/

writes `release/<id>/` and `release/<id>.zip`, but only after a gate has proved, stage by stage:

1. **spec and leaks** (no sandbox). The spec loads: check ids are unique and the points add up to
   the declared totals (the spec loader's own validation). The public seed is not the secret seed.
   Every file the spec lists exists. The release is built in a temporary folder and no file of it
   holds a secret: a line of the reference solution's code that is not in the template (given code,
   stub signatures and code the prompt itself shows are), a line of `solutions/<id>/checks.py`,
   `probes.py`, `secret.yaml` or `mistakes/*`, a line or a copy of any other solutions file
   (thresholds, held-out data), or the secret seed. Solution code left in the template's answer
   cells is caught by stage 2 instead: the template would not score 0.
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

What the release holds: `<id>.ipynb` (outputs cleared, cell ids, given cells locked with
`editable: false`/`deletable: false` and a checksum, the assignment id and version in its
metadata), every other file of the public assignment folder (data files, public `checks.py` and
`probes.py`: the sandbox already shows that folder to students' code at grading, so it must be
secret-free anyway, and the gate checks it is), `assignment.yaml` with the hidden checks reduced
to id, question, points and visibility plus the `public_seed`, and `expectations.json` (written
with tensorgrade.sandbox.transport): public probe outputs, known mistakes' outputs (never their code) so
public diagnoses work, and the locked cells.

The student side, `tensorgrade check <id>.ipynb` in the released folder, runs the public checks in
the same sandbox as grading, judged against those expectations (`check_notebook`).

Code shared by design is not a secret: a line of the reference or of the hidden checks that the
public checks also run (fetching the student's class, `with torch.no_grad():`, a continuation line
of the same call) is allowed, unless it holds a number (numbers are what hidden inputs and
thresholds are made of). "Run" means module-level code and the functions reachable from a public
check, so a hidden function pasted into public probes.py but used by no public check is still
reported. Known limit: a number-free line pasted INTO a function a public check runs counts as
shared. Lines shorter than 10 characters and import lines are too common to mean anything.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from tensorgrade.sandbox import transport
from tensorgrade.course.assignment import Assignment, CheckSpec, SpecError, load_assignment
from tensorgrade.sandbox.host.workers import ExecutionError, ProbeRecord
from tensorgrade.grading.grader import Grader, ReferenceFailure, ReferenceOutputs, draw_all_inputs, reference_outputs
from tensorgrade.submission.notebooks import (LOCKED_CELL_FINDING, LockedCell, ensure_cell_ids, is_given, locked_cells,
                                  source_checksum)
from tensorgrade.grading.results import SubmissionResult

EXPECTATIONS_FILE = "expectations.json"
SPEC_FILE = "assignment.yaml"
NOT_RELEASED = {"__pycache__", ".ipynb_checkpoints", ".cache", ".DS_Store", EXPECTATIONS_FILE}
MIN_SECRET_LINE = 10  # `return x`, `pass`, `])`: too common to mean anything
MIN_EMBEDDED_SECRET = 24  # a secret line this long is also found inside a longer line (a markdown hint)
MAX_EMBEDDED_SCAN_BYTES = 2_000_000  # big data files are compared line for line only
MAX_SECRET_TEXT_BYTES = 64 * 1024 * 1024
MIN_SEED_DIGITS = 5  # a shorter seed is a common number; it is reported as guessable instead
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # fixed, so the same release zips to the same bytes
STAGES = ("spec and leaks", "sandbox (secret seed)", "release alone (public seed)")


class ReleaseError(RuntimeError):
    """A released folder that cannot be used for student-side checks (the message says why)."""


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
# Seeds and the public view of an assignment
# ---------------------------------------------------------------------------------------------

def public_seed_of(assignment: Assignment) -> int:
    """The spec's `public_seed`, else one derived from id and version only (public facts), so it
    changes with every version and never depends on the secret seed."""
    if assignment.public_seed is not None:
        return assignment.public_seed
    digest = hashlib.sha256(f"tensorgrade public seed\0{assignment.id}\0{assignment.version}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def public_view(assignment: Assignment, public_seed: int) -> Assignment:
    """The assignment restricted to its public checks, with the public seed in the secret seed's
    place: its reference outputs are what a release may contain, and its fingerprint (hence its
    reference cache file) differs from the secret one's."""
    public = [spec for spec in assignment.checks if spec.visibility == "public"]
    ids = {spec.id for spec in public}
    return dataclasses.replace(
        assignment, checks=public,
        implementations={k: v for k, v in assignment.implementations.items() if k in ids},
        probe_sources={k: v for k, v in assignment.probe_sources.items() if k == "public"},
        secret_seed=public_seed)


# ---------------------------------------------------------------------------------------------
# The released files
# ---------------------------------------------------------------------------------------------

def student_notebook(assignment: Assignment) -> nbformat.NotebookNode:
    """The template as students get it: outputs cleared, cell ids, given cells locked with a
    checksum, the assignment id and version in the notebook metadata."""
    notebook = nbformat.read(str(assignment.template_path), as_version=4)
    ensure_cell_ids(notebook)  # the same ids the grader derives from the template
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if is_given(cell.get("metadata", {})):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
            cell.metadata["tensorgrade"] = {**cell.metadata["tensorgrade"], "locked": True,
                                           "checksum": source_checksum(cell.source)}
    notebook.metadata["tensorgrade"] = {"assignment": assignment.id, "version": assignment.version}
    nbformat.validate(notebook)
    return notebook


def public_spec(assignment: Assignment, public_seed: int) -> dict:
    """assignment.yaml as released: hidden checks by id, question, points and visibility only
    (their descriptions and timeouts say how they test), plus the public seed."""
    spec = yaml.safe_load((assignment.directory / SPEC_FILE).read_text())
    spec["public_seed"] = public_seed
    checks = []
    for raw in spec["checks"]:
        if raw["visibility"] == "hidden":
            checks.append({"id": raw["id"], "question": raw["question"], "points": raw["points"],
                           "visibility": "hidden"})
        else:
            checks.append(raw)
    spec["checks"] = checks
    return spec


def _released_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*")
                  if p.is_file() and not any(part in NOT_RELEASED or part.startswith(".")
                                             for part in p.relative_to(directory).parts))


def write_release_files(assignment: Assignment, public_seed: int, folder: Path) -> None:
    """Everything of the release but the expectations, into `folder` (which must not exist)."""
    folder.mkdir(parents=True)
    folder.chmod(0o755)  # the sandbox's student uid reads it at check time
    for path in _released_files(assignment.directory):
        relative = path.relative_to(assignment.directory)
        if relative in (Path(assignment.notebook), Path(SPEC_FILE)):
            continue
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    nbformat.write(student_notebook(assignment), str(folder / assignment.notebook))
    (folder / SPEC_FILE).write_text(
        f"# Released assignment {assignment.id} v{assignment.version}: public checks only; hidden checks run at grading.\n"
        + yaml.safe_dump(public_spec(assignment, public_seed), sort_keys=False, width=110,
                         default_flow_style=None))


def _records_to_json(records: dict[str, ProbeRecord], keep_errors: bool) -> dict:
    return {check: {"status": r.status, "output": r.output, "error": r.error if keep_errors else None,
                    "seconds": r.seconds}
            for check, r in records.items()}


def _public_sources_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("checks.py", "probes.py"):
        path = folder / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
    return digest.hexdigest()


def write_expectations(assignment: Assignment, public_seed: int, reference: ReferenceOutputs,
                       locked: list[LockedCell], folder: Path) -> None:
    """The public probes' reference outputs on public-seed inputs, each known mistake's outputs
    where its variant ran cleanly (never its code, nor its tracebacks, which quote that code), and
    the locked cells the student-side check restores."""
    mistakes = {name: _records_to_json({check: r for check, r in records.items() if r.status == "ok"},
                                       keep_errors=False)
                for name, records in reference.mistakes.items()}
    data = {
        "assignment": assignment.id, "version": assignment.version, "public_seed": public_seed,
        "public_sources": _public_sources_digest(folder),
        "reference": _records_to_json(reference.reference, keep_errors=False),
        "mistakes": mistakes,
        "locked_cells": [dataclasses.asdict(cell) for cell in locked],
    }
    (folder / EXPECTATIONS_FILE).write_text(transport.dumps(data))


def write_zip(folder: Path, zip_path: Path) -> None:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{folder.name}/{path.relative_to(folder).as_posix()}", date_time=ZIP_TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


# ---------------------------------------------------------------------------------------------
# The leak scan
# ---------------------------------------------------------------------------------------------

IMPORT_LINE = re.compile(r"^(from\s+\S+\s+)?import\s")
NUMBER = re.compile(r"(?<![\w.])\.?\d")  # a numeric literal, not the 3 of `Polynomial3`


def normalize_line(line: str) -> str:
    return " ".join(line.split())


def _significant(line: str) -> bool:
    return len(line) >= MIN_SECRET_LINE and any(c.isalnum() for c in line) and not IMPORT_LINE.match(line)


def _lines(text: str) -> list[str]:
    return [normalize_line(line) for line in text.splitlines()]


def _notebook_lines(notebook_path: Path) -> list[str]:
    notebook = nbformat.read(str(notebook_path), as_version=4)
    return list(dict.fromkeys(line for cell in notebook.cells for line in _lines(cell.source) if line))


def public_code_in_use(assignment: Assignment) -> list[str]:
    """Normalized lines of the public checks.py and probes.py that the public checks run: module-level
    code and every top-level function or class reachable from it or from a public check's probe."""
    probe_names = {impl.probe for spec in assignment.checks if spec.visibility == "public"
                   for impl in [assignment.implementations.get(spec.id)] if impl is not None}
    lines: list[str] = []
    for name in ("checks.py", "probes.py"):
        path = assignment.directory / name
        if not path.is_file():
            continue
        source = path.read_text()
        try:
            tree = ast.parse(source)
        except SyntaxError:
            lines += _lines(source)  # cannot tell what runs: everything counts as run
            continue
        definitions = {node.name: node for node in tree.body
                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        module_level = [node for node in tree.body if node not in definitions.values()]
        pending = [*(probe_names if name == "probes.py" else ()),
                   *(n.id for node in module_level for n in ast.walk(node) if isinstance(n, ast.Name))]
        reached: set[str] = set()
        while pending:
            current = pending.pop()
            if current in reached or current not in definitions:
                continue
            reached.add(current)
            pending += [n.id for n in ast.walk(definitions[current]) if isinstance(n, ast.Name)]
        source_lines = source.splitlines()
        for node in [*module_level, *(definitions[n] for n in reached)]:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            lines += _lines("\n".join(source_lines[first - 1:node.end_lineno]))
    return lines


@dataclass
class SecretIndex:
    """What must never appear in a release, each with where it comes from."""
    lines: dict[str, str] = field(default_factory=dict)  # normalized line -> its origin
    file_digests: dict[str, str] = field(default_factory=dict)  # sha256 of a solutions file -> its path
    seed: str | None = None

    def add(self, text: str, origin: str, allowed: set[str] = frozenset()) -> None:
        for number, line in enumerate(_lines(text), 1):
            if _significant(line) and line not in allowed and line not in self.lines:
                self.lines[line] = f"{origin}:{number}"

    @property
    def embedded(self) -> list[str]:
        return [line for line in self.lines if len(line) >= MIN_EMBEDDED_SECRET]


def collect_secrets(assignment: Assignment, root: Path) -> SecretIndex:
    """The reference's own lines, hidden checks and probes, the secret seed, mistakes, and every
    other file under the solutions folder (thresholds, held-out data); see the module docstring."""
    solutions = assignment.solutions_dir
    index = SecretIndex()

    def origin(path: Path) -> str:
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)

    template_lines = _notebook_lines(assignment.template_path) if assignment.template_path.is_file() else []
    public_lines = public_code_in_use(assignment)

    def in_template(text: str) -> set[str]:
        """Reference lines the template itself shows (given code, a stub's signature, the prompt's
        `model = nn.Sequential(...)`): "the reference's lines that are not in the template" are secret."""
        return {line for line in _lines(text) if _significant(line) and any(line in t for t in template_lines)}

    def plumbing(text: str) -> set[str]:
        """Number-free lines the public checks also run: shared by design (see the module docstring)."""
        return {line for line in _lines(text) if _significant(line) and not NUMBER.search(line)
                and any(line in public for public in public_lines)}

    if assignment.solution_path.is_file():
        solution = nbformat.read(str(assignment.solution_path), as_version=4)
        for number, cell in enumerate(solution.cells):
            if cell.cell_type == "code":
                index.add(cell.source, f"{origin(assignment.solution_path)} cell {number}",
                          allowed=in_template(cell.source) | plumbing(cell.source))
    for name in ("checks.py", "probes.py"):
        if (solutions / name).is_file():
            text = (solutions / name).read_text()
            index.add(text, origin(solutions / name), allowed=plumbing(text))
    if (solutions / "secret.yaml").is_file():
        index.add((solutions / "secret.yaml").read_text(), origin(solutions / "secret.yaml"))
    for path in sorted((solutions / "mistakes").glob("*")) if (solutions / "mistakes").is_dir() else []:
        if path.is_file():
            text = path.read_text(errors="replace")
            index.add(text, origin(path), allowed=in_template(text) | plumbing(text))
    for path in sorted(solutions.rglob("*")) if solutions.is_dir() else []:
        relative = path.relative_to(solutions)
        if not path.is_file() or relative.parts[0] in ("samples", ".cache") or "__pycache__" in relative.parts:
            continue
        index.file_digests[hashlib.sha256(path.read_bytes()).hexdigest()] = origin(path)
        is_data = path.suffix not in (".py", ".ipynb", ".md") and relative.parts[0] != "mistakes"
        if is_data and path.name != "secret.yaml" and path.stat().st_size <= MAX_SECRET_TEXT_BYTES:
            try:
                index.add(path.read_text(), origin(path))
            except UnicodeDecodeError:
                pass  # binary held-out data: its digest is compared
    if assignment.secret_seed is not None and len(str(abs(assignment.secret_seed))) >= MIN_SEED_DIGITS:
        index.seed = str(assignment.secret_seed)
    return index


def _texts_of(path: Path) -> list[tuple[str, str]]:
    """(where, text) pieces of a released file to scan: a notebook's cells and metadata, or the
    text of any other file; nothing for binary files (their digest is compared)."""
    if path.suffix == ".ipynb":
        try:
            notebook = json.loads(path.read_text())
            pieces = [(f"cell {i}", "".join(c.get("source", "")) if isinstance(c.get("source"), list)
                       else str(c.get("source", ""))) for i, c in enumerate(notebook.get("cells", []))]
            pieces += [(f"cell {i} metadata", json.dumps(c.get("metadata", {})))
                       for i, c in enumerate(notebook.get("cells", []))]
            return pieces + [("metadata", json.dumps(notebook.get("metadata", {})))]
        except (ValueError, AttributeError):
            pass
    try:
        return [("", path.read_text())]
    except UnicodeDecodeError:
        return []


def scan_for_leaks(folder: Path, secrets: SecretIndex) -> list[str]:
    """Every place in the files under `folder` where a secret appears."""
    leaks = []
    embedded = secrets.embedded
    seed_pattern = re.compile(rf"(?<!\d){secrets.seed}(?!\d)") if secrets.seed else None
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder.parent).as_posix()
        origin = secrets.file_digests.get(hashlib.sha256(path.read_bytes()).hexdigest())
        if origin:
            leaks.append(f"{name} is a copy of {origin}")
            continue
        search_inside = path.stat().st_size <= MAX_EMBEDDED_SCAN_BYTES
        for where, text in _texts_of(path):
            place = f"{name} {where}".strip()
            if seed_pattern and seed_pattern.search(text):
                leaks.append(f"{place}: holds the secret seed")
            for number, line in enumerate(_lines(text), 1):
                hit = secrets.lines.get(line)
                if hit is None and search_inside and len(line) > MIN_EMBEDDED_SECRET:
                    hit = next((secrets.lines[s] for s in embedded if len(s) < len(line) and s in line), None)
                if hit:
                    leaks.append(f"{place} line {number}: {line[:100]!r} comes from {hit}")
    return leaks


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
                 f"{_first_line(c.message)}" for c in result.checks if c.points < c.max_points]
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


def fill_with_reference(released: nbformat.NotebookNode, solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The released notebook with each student cell replaced by the reference's matching cell
    (same id, else the same question's answer cell in order, else the same position among the
    non-given code cells); where cells cannot be matched, the reference's cells themselves, with
    the release's metadata and the released ids of the given cells."""
    filled = nbformat.from_dict(json.loads(json.dumps(released)))
    student_cells = [c for c in filled.cells if c.cell_type == "code" and not is_given(c.get("metadata", {}))]
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
# The student side: a released folder
# ---------------------------------------------------------------------------------------------

@dataclass
class OpenedRelease:
    assignment: Assignment  # public checks only
    public_seed: int
    reference: ReferenceOutputs
    locked: list[LockedCell]

    @property
    def hidden_checks(self) -> list[CheckSpec]:
        return [spec for spec in self.assignment.checks if spec.visibility == "hidden"]


def find_release_folder(notebook: Path) -> Path:
    """The released folder a notebook belongs to: its own folder or the nearest parent holding
    both assignment.yaml and expectations.json."""
    for folder in [notebook.resolve().parent, *notebook.resolve().parent.parents]:
        if (folder / SPEC_FILE).is_file() and (folder / EXPECTATIONS_FILE).is_file():
            return folder
    raise ReleaseError(f"{notebook}: no released assignment found beside it or above it (a released folder "
                       f"holds {SPEC_FILE} and {EXPECTATIONS_FILE})")


def open_release(folder: Path | str) -> OpenedRelease:
    folder = Path(folder).resolve()
    expectations_path = folder / EXPECTATIONS_FILE
    if not expectations_path.is_file():
        raise ReleaseError(f"{folder}: no {EXPECTATIONS_FILE}: not a released assignment (build one with "
                           "`tensorgrade release`)")
    try:
        assignment = load_assignment(folder, with_hidden=False)
        data = transport.loads(expectations_path.read_bytes())
    except (SpecError, transport.TransportError) as exc:
        raise ReleaseError(f"{folder}: {exc}") from None
    public_seed = public_seed_of(assignment)
    if (data.get("assignment"), data.get("version"), data.get("public_seed")) != \
            (assignment.id, assignment.version, public_seed):
        raise ReleaseError(f"{expectations_path}: computed for {data.get('assignment')} v{data.get('version')} "
                           f"(seed {data.get('public_seed')}), not for {assignment.id} v{assignment.version} "
                           f"(seed {public_seed}): download the release again")
    if data.get("public_sources") != _public_sources_digest(folder):
        raise ReleaseError(f"{folder}: checks.py or probes.py changed since the release was built, so the "
                           "stored expectations no longer apply: restore them from the release")
    reference = {check: ProbeRecord(**record) for check, record in data["reference"].items()}
    missing = [spec.id for spec in assignment.checks if spec.visibility == "public" and spec.id not in reference]
    if missing:
        raise ReleaseError(f"{expectations_path}: no expectations for public check(s) {missing}")
    mistakes = {name: {check: ProbeRecord(**record) for check, record in records.items()}
                for name, records in data.get("mistakes", {}).items()}
    locked = [LockedCell(**cell) for cell in data.get("locked_cells", [])]
    return OpenedRelease(assignment=assignment, public_seed=public_seed,
                         reference=ReferenceOutputs(fingerprint=f"release-{public_seed}", reference=reference,
                                                    mistakes=mistakes),
                         locked=locked)


def check_notebook(folder: Path | str, notebook: Path | str, jobs: int = 1) -> tuple[SubmissionResult, OpenedRelease]:
    """Run a released assignment's public checks on a notebook, from the release alone."""
    release = open_release(folder)
    with Grader(release.assignment, jobs=jobs, seed=release.public_seed, reference=release.reference,
                locked=release.locked) as grader:
        return grader.grade(notebook), release


# ---------------------------------------------------------------------------------------------
# The gate and the release
# ---------------------------------------------------------------------------------------------

def _public_proof_problems(result: SubmissionResult) -> list[str]:
    if result.status != "graded":
        return [f"the student-side check could not grade the reference from the release ({result.status}): "
                f"{result.error}"]
    problems = [f"public check {c.id} does not pass on the reference from the release alone ({c.status}): "
                f"{_first_line(c.message)}" for c in result.checks if c.status != "passed"]
    problems += [f"from the release: {finding}" for finding in result.integrity
                 if finding.startswith(LOCKED_CELL_FINDING)]
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
