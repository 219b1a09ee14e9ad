"""What a release holds, and writing it: the student notebook, the public spec and seed, the
released files, the expectations and the zip.

What the release holds: `<id>.ipynb` (outputs cleared, cell ids, given cells locked with
`editable: false`/`deletable: false` and a checksum, the assignment id and version in its
metadata), every other file of the public assignment folder (data files, public `checks.py` and
`probes.py`: the sandbox already shows that folder to students' code at grading, so it must be
secret-free anyway, and the gate checks it is), `assignment.yaml` with the hidden checks reduced
to id, question, points and visibility plus the `public_seed`, and `expectations.json` (written
with tensorgrade.sandbox.transport): public probe outputs, known mistakes' outputs (never their code) so
public diagnoses work, and the locked cells.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path

import nbformat
import yaml

from tensorgrade.sandbox import transport
from tensorgrade.course.assignment import Assignment
from tensorgrade.sandbox.host.jobs import ProbeRecord
from tensorgrade.grading.grader import ReferenceOutputs
from tensorgrade.submission.notebooks import LockedCell, ensure_cell_ids, is_given, source_checksum

EXPECTATIONS_FILE = "expectations.json"
SPEC_FILE = "assignment.yaml"
NOT_RELEASED = {"__pycache__", ".ipynb_checkpoints", ".cache", ".DS_Store", EXPECTATIONS_FILE}
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # fixed, so the same release zips to the same bytes


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

# The templates' note about the command line check, which the check cells replace.
CHECK_COMMAND_NOTE = re.compile(r"Run the public checks\s+at\s+any\s+time\s+with\s+"
                                r"`(?:tensorgrade|autograder)\s+check\s+[^`]*`\.")
CHECK_CELLS_NOTE = ("Run the `tg.check(...)` cell under each answer to run its public checks here, on what you "
                    "have run so far (the first code cell loads them; hidden checks run at grading).")


def is_checker(metadata: dict) -> bool:
    """A cell the release added to run the student-side checker (metadata `tensorgrade.checker`)."""
    marker = metadata.get("tensorgrade") if isinstance(metadata, dict) else None
    return isinstance(marker, dict) and marker.get("checker") is True


def _checker_cell(cell_id: str, source: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata={"tensorgrade": {"checker": True}})
    cell["id"] = cell_id
    return cell


def init_cell_source(assignment: Assignment) -> str:
    """The first code cell: loads the checker for this release. An instructor may set where students
    get the release (assignment.yaml: `student: {release_url: ..., release_path: ...}`: a download for
    Colab, a folder or zip on a shared drive); without them, it is looked for beside the notebook."""
    spec = yaml.safe_load((assignment.directory / SPEC_FILE).read_text()) or {}
    student = spec.get("student") if isinstance(spec.get("student"), dict) else {}
    url, path = student.get("release_url"), student.get("release_path")
    arguments = ((f"{json.dumps(str(path))}, " if path else "") + f"assignment={json.dumps(assignment.id)}"
                 + (f", url={json.dumps(str(url))}" if url else ""))
    return ("# Loads this assignment's public checks (the release folder beside this notebook; in Colab, the\n"
            f"# release zip uploaded or on your Drive). Without the package: %pip install tensorgrade\n"
            "import tensorgrade.student as tg\n"
            f"tg.init({arguments})")


def add_checker_cells(assignment: Assignment, notebook: nbformat.NotebookNode) -> None:
    """A first code cell that loads the checker, a `tg.check("qN")` cell after each question's last
    answer cell, and the template's note about the `tensorgrade check` command pointed at them.

    At grading these cells run like any other and do nothing (tensorgrade.student is a no-op under
    the grader), so a submission scores the same with them, without them, or with them edited."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = CHECK_COMMAND_NOTE.sub(CHECK_CELLS_NOTE, cell.source)
    last_answer: dict[str, int] = {}
    for index, cell in enumerate(notebook.cells):
        marker = cell.get("metadata", {}).get("tensorgrade")
        if cell.cell_type == "code" and isinstance(marker, dict) and marker.get("answer") and marker.get("question"):
            last_answer[str(marker["question"])] = index
    taken = {cell.get("id") for cell in notebook.cells}
    for question, index in sorted(last_answer.items(), key=lambda item: -item[1]):
        cell_id = f"tensorgrade-check-{re.sub(r'[^A-Za-z0-9_-]', '-', question)}"
        while cell_id in taken:
            cell_id += "x"
        taken.add(cell_id)
        notebook.cells.insert(index + 1, _checker_cell(cell_id, f"tg.check({json.dumps(question)})"))
    first_code = next((i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"), len(notebook.cells))
    cell_id = "tensorgrade-init"
    while cell_id in taken:
        cell_id += "x"
    notebook.cells.insert(first_code, _checker_cell(cell_id, init_cell_source(assignment)))


def student_notebook(assignment: Assignment) -> nbformat.NotebookNode:
    """The template as students get it: outputs cleared, cell ids, given cells locked with a
    checksum, the assignment id and version in the notebook metadata, and the checker's cells."""
    notebook = nbformat.read(str(assignment.template_path), as_version=4)
    ensure_cell_ids(notebook)  # the same ids the grader derives from the template (before cells are added)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if is_given(cell.get("metadata", {})):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
            cell.metadata["tensorgrade"] = {**cell.metadata["tensorgrade"], "locked": True,
                                           "checksum": source_checksum(cell.source)}
    add_checker_cells(assignment, notebook)
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


def public_sources_digest(folder: Path) -> str:
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
        "public_sources": public_sources_digest(folder),
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
