"""Gradescope: `results.json` per student, the autograder zip, and what its `run_autograder` runs.

* Gradescope `results.json`, one per student, and the one `run_autograder` writes in Gradescope;
* a Gradescope autograder zip: `setup.sh`, `run_autograder`, this package's source, the assignment
  and its solutions.

Hidden checks never carry more than passed/failed to a student: in `results.json` their output is
exactly that, their visibility `after_published`, and their name is the check id (no description).

Nor does anything else tell a student a hidden result before the grades are published (Gradescope's
"Autograder Specifications": a test's `visibility` overrides the top-level one, and while any test
is hidden students cannot see their total score).  Where the assignment has hidden checks, the
top-level `visibility` is `after_published` too, the public checks' tests say `visible`, and the
top-level `output` states only the public checks' points and what the hidden ones are worth; the
top-level `score` (the total, what Gradescope records) is then not shown until publication.  So
before publication a student sees the public checks and their points, no total; after it, the
hidden checks' passed/failed and points, and the total.

Every `output` is shown by Gradescope as plain text (`output_format: text`, never html, md or
ansi), so nothing a student wrote in it becomes markup or a link; its control characters are written
out as well (`safe_text.for_terminal`: an escape sequence, a bidi override or a CR of the student's
shows as `\x1b`, `\u202e`, `\x0d`, to the student and to the staff).  Names are check ids and
tags the spec's questions and the judges' diagnoses, never the student's text.

`write_gradescope_results` names each student's folder with `safe_text.file_name`: a readable part
and a hash of the student id, so no two students share a folder (`j~smith`, `j_smith`), and
`index.json` beside the folders maps each folder to its student id.

A grader error (status `error`: the grader's failure, not the student's) gets no results.json at all.
Gradescope's format has no "no score" value: a results.json needs a `score` (top-level or on each
test), so any results.json would record points, 0 for a failure.  Without one, Gradescope's
documented "The autograder failed to execute correctly" state applies (its troubleshooting page:
no valid results.json), which it records as `autograder_error` ("failed to run at no fault of the
student", its submission metadata); the staff rerun the autograder on it.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import zipfile
from pathlib import Path

from tensorgrade.classroom.exports import question_ids
from tensorgrade.classroom.gradebook import GradebookEntry
from tensorgrade.grading.results import CheckResult, SubmissionResult
from tensorgrade.reports.paths import for_student
from tensorgrade.safe_text import file_names, for_terminal

GRADESCOPE_HIDDEN_VISIBILITY = "after_published"
# Every output is plain text on Gradescope: nothing in it is rendered (html, md) or interpreted (ansi).
OUTPUT_FORMAT = "text"
# Beside the students' folders of an export: {folder name: student id}.
INDEX_NAME = "index.json"
# Files beside a solution that grading never reads: student samples, other fingerprints' caches.
SOLUTION_FILES_LEFT_OUT = {"samples"}
SKIPPED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


# ---------------------------------------------------------------------------------------------
# Gradescope results.json
# ---------------------------------------------------------------------------------------------

def _test_entry(check: CheckResult, number: str) -> dict:
    passed = check.status == "passed"  # with an override, the status its points imply
    if check.status == "manual":  # Gradescope knows passed/failed only: said in the output, 0 points so far
        output = f"{check.id}: awaiting a TA's grade ({check.max_points:g} point(s), graded by hand)"
        return {"score": 0.0, "max_score": float(check.max_points), "status": "failed", "name": check.id,
                "number": number, "output": for_terminal(output), "output_format": OUTPUT_FORMAT,
                "tags": [check.question, "manual"], "visibility": "visible"}
    if check.visibility == "public":
        output = check.message or ("passed" if passed else "failed")
        if check.diagnosis and check.diagnosis not in output:
            output += f"\nDiagnosis: {check.diagnosis}"
        tags = [check.question] + ([check.diagnosis] if check.diagnosis else [])
        visibility = "visible"
    else:  # hidden: passed/failed and the points, nothing of the message, diagnosis or details
        output = "passed" if passed else "failed"
        tags = [check.question]
        visibility = GRADESCOPE_HIDDEN_VISIBILITY
    return {"score": float(check.points), "max_score": float(check.max_points),
            "status": "passed" if passed else "failed", "name": check.id, "number": number,
            "output": for_terminal(output), "output_format": OUTPUT_FORMAT, "tags": tags, "visibility": visibility}


def gradescope_results(result: SubmissionResult) -> dict | None:
    """One submission's Gradescope results.json: what a student reads, so without a path of the
    grading machine (`reports.paths.for_student`: the sandbox's folder, the grader's install).
    None for a grader error: no results.json, Gradescope's own "autograder failed" state, never
    points (see the top)."""
    if result.status == "error":
        return None
    result = for_student(result)
    numbers: dict[str, int] = {}
    tests = []
    question_order = question_ids([result])
    for check in result.checks:
        numbers[check.question] = numbers.get(check.question, 0) + 1
        tests.append(_test_entry(check, f"{question_order.index(check.question) + 1}.{numbers[check.question]}"))
    hidden = [check for check in result.checks if check.visibility != "public"]
    if result.status == "graded" and hidden:
        public = [check for check in result.checks if check.visibility == "public"]
        lines = [f"Public checks: {sum(c.points for c in public):g} / {sum(c.max_points for c in public):g} points. "
                 f"Hidden checks: {len(hidden)} check(s) worth {sum(c.max_points for c in hidden):g} point(s), "
                 "shown with your total score when the grades are published."]
    else:
        lines = [f"Autograder score: {result.score:g} / {result.max_score:g}"]
    if result.status == "graded":
        for cell in result.cells:
            if cell.status in ("error", "timeout"):
                last = (cell.error or "").strip().split("\n")[-1:]  # by "\n" alone: a CR is written out
                lines.append(f"cell {cell.index}: {cell.status}: {last[0]}")
    elif result.status == "invalid":
        lines = [f"Your submission could not be graded: {result.error}"]
    # With hidden checks, the results (and so the total score) wait for publication; each public
    # check's test overrides that with "visible".
    return {"score": float(result.score), "execution_time": int(round(result.timing.get("total", 0.0))),
            "output": for_terminal("\n".join(lines)), "output_format": OUTPUT_FORMAT,
            "visibility": GRADESCOPE_HIDDEN_VISIBILITY if hidden else "visible",
            "stdout_visibility": "hidden", "tests": tests, "leaderboard": []}


def student_folders(students: list[str]) -> dict[str, str]:
    """Each student's folder name (`j~smith` -> `j_smith-<hash>`, `j_smith` -> `j_smith-<another hash>`)."""
    return file_names(students)


def write_gradescope_results(entries: list[GradebookEntry], out_dir: Path) -> list[Path]:
    """`out_dir/<folder>/results.json` for each student, the folder named by `student_folders`, and
    `out_dir/index.json`: {folder: student id}, to tell whose each folder is.  A student whose
    result is a grader error gets the folder without a results.json (and a stale one is removed):
    blank, as in the other exports, never 0."""
    out_dir = Path(out_dir)
    folders = student_folders([entry.student for entry in entries])
    written = []
    for entry in entries:
        path = out_dir / folders[entry.student] / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        results = gradescope_results(entry.result)
        if results is None:
            path.unlink(missing_ok=True)
            continue
        path.write_text(json.dumps(results, indent=1))
        written.append(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = {folder: student for student, folder in folders.items()}
    (out_dir / INDEX_NAME).write_text(json.dumps(index, indent=1, sort_keys=True))  # ASCII: \u001b, never raw
    return written


# ---------------------------------------------------------------------------------------------
# Gradescope autograder zip
# ---------------------------------------------------------------------------------------------

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (use an Ubuntu 24.04 base:
# the package needs Python 3.11 or newer).
set -euo pipefail
SOURCE="${{AUTOGRADER_SOURCE:-/autograder/source}}"
VENV="${{AUTOGRADER_VENV:-/autograder/venv}}"
apt-get update
# bubblewrap and libseccomp are sandbox layers; without them grading still runs and every result
# names the missing layers.
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
    python3 python3-venv python3-pip bubblewrap libseccomp2
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {{
    echo "tensorgrade needs Python 3.11 or newer: pick Gradescope's Ubuntu 24.04 base image" >&2; exit 1; }}
python3 -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
# The CPU build of torch first, from PyTorch's CPU index: the default torch wheel pulls gigabytes of CUDA.
"$VENV/bin/pip" install torch=={torch_version} --index-url https://download.pytorch.org/whl/cpu
# The grader's extra (sandbox layers, pandas) and those the assignment's preloads need (tensorflow for
# a6_tensorflow), at the exact versions the grader was tested with.
"$VENV/bin/pip" install -c "$SOURCE/package/constraints.txt" "$SOURCE/package{extras}"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per submission: grade the notebook in $ROOT/submission in the sandbox and
# write $ROOT/results/results.json (none on a grader error: Gradescope's "autograder failed" state,
# never points; the reason is in this script's output).  The roots are overridable, so the same
# script runs against a folder laid out like Gradescope's (tests, a TA trying it locally).
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="${{AUTOGRADER_SOURCE:-$ROOT/source}}"
PYTHON="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
mkdir -p "$ROOT/results"
exec "$PYTHON" -m tensorgrade gradescope-run "$SOURCE/assignments/{assignment_id}" \\
    --solutions "$SOURCE/solutions/{assignment_id}" \\
    --submission "$ROOT/submission" --results "$ROOT/results/results.json"
"""


def _tree(folder: Path, skip_top: set[str] = frozenset()) -> list[Path]:
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if (not path.is_file() or path.is_symlink() or relative.parts[0] in skip_top
                or any(part in SKIPPED_NAMES for part in relative.parts) or path.suffix in (".pyc", ".tmp")):
            continue
        files.append(path)
    return files


def _add(bundle: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    bundle.writestr(info, data)


def preload_extras(preload: list[str]) -> str:
    """`[grader]` (the sandbox layers, the packages students use), plus `tensorflow` when an assignment
    preloads modules that an optional extra of this package provides, so the Gradescope image has them."""
    from tensorgrade.sandbox.host.preload import package_extra

    extras = sorted({"grader"} | {extra[0] for extra in map(package_extra, preload) if extra is not None})
    return f"[{','.join(extras)}]"


def build_gradescope_zip(assignment, out: Path) -> list[str]:
    """Write the autograder zip for `assignment` (loaded with its solutions); returns its member names."""
    import torch

    import tensorgrade

    package_dir = tensorgrade.package_dir()
    project_dir = package_dir.parent
    if not (project_dir / "pyproject.toml").is_file():
        raise FileNotFoundError(f"{project_dir / 'pyproject.toml'}: not found: build the Gradescope zip from a "
                                "source checkout of tensorgrade (its package is installed from source there)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".tmp")
    names = []
    cache = assignment.solutions_dir / ".cache" / f"reference-{assignment.fingerprint()}.json"
    with zipfile.ZipFile(partial, "w") as bundle:
        def add(name: str, data: bytes, executable: bool = False) -> None:
            _add(bundle, name, data, executable)
            names.append(name)

        add("setup.sh", SETUP_SH.format(torch_version=torch.__version__.split("+")[0],
                                        extras=preload_extras(assignment.preload)).encode(), executable=True)
        add("run_autograder", RUN_AUTOGRADER.format(assignment_id=shlex.quote(assignment.id)).encode(),
            executable=True)
        for name in ("pyproject.toml", "README.md", "constraints.txt"):
            add(f"package/{name}", (project_dir / name).read_bytes())
        for path in _tree(package_dir):
            add(f"package/tensorgrade/{path.relative_to(package_dir).as_posix()}", path.read_bytes())
        for path in _tree(assignment.directory):
            add(f"assignments/{assignment.id}/{path.relative_to(assignment.directory).as_posix()}", path.read_bytes())
        for path in _tree(assignment.solutions_dir, skip_top=SOLUTION_FILES_LEFT_OUT | {".cache"}):
            add(f"solutions/{assignment.id}/{path.relative_to(assignment.solutions_dir).as_posix()}", path.read_bytes())
        if cache.is_file():  # the reference's outputs: Gradescope need not recompute them per submission
            add(f"solutions/{assignment.id}/.cache/{cache.name}", cache.read_bytes())
    os.replace(partial, out)
    return names


def pick_notebook(submission_dir: Path, expected_name: str) -> tuple[Path | None, str]:
    """The notebook to grade among what the student uploaded, and a note for them if there was a choice."""
    notebooks = sorted(p for p in Path(submission_dir).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        uploaded = sorted(p.name for p in Path(submission_dir).rglob("*") if p.is_file())
        return None, ("No notebook (.ipynb) was found in your submission"
                      + (f" (files: {', '.join(uploaded)})" if uploaded else "") + f"; upload {expected_name}.")
    named = [p for p in notebooks if p.name == expected_name]
    if len(notebooks) == 1:
        return notebooks[0], ""
    chosen = named[0] if named else max(notebooks, key=lambda p: (p.stat().st_mtime, p.name))
    why = "the one named like the assignment" if named else "the newest"
    return chosen, (f"Your submission has {len(notebooks)} notebooks ({', '.join(p.name for p in notebooks)}); "
                    f"graded {why}: {chosen.name}.")


def run_gradescope_submission(assignment_dir: Path, solutions_dir: Path | None, submission_dir: Path,
                              results_path: Path) -> dict | None:
    """What `run_autograder` does: grade the submission and write its results.json, or, on a failure
    of the grader's (a result whose status is `error`, or an exception here), remove any results.json
    and write none: Gradescope's "autograder failed" state, not the student's fault, never points
    (see the top). The reason is printed, for the staff's autograder output; returns None then."""
    from tensorgrade.course.assignment import load_assignment
    from tensorgrade.grading.grader import Grader

    results_path = Path(results_path)
    results: dict | None = None
    try:
        assignment = load_assignment(assignment_dir, solutions_dir)
        notebook, note = pick_notebook(submission_dir, assignment.notebook)
        if notebook is None:
            results = {"score": 0.0, "execution_time": 0, "output": for_terminal(note), "output_format": OUTPUT_FORMAT,
                       "visibility": "visible", "stdout_visibility": "hidden", "tests": [], "leaderboard": []}
        else:
            with Grader(assignment, jobs=1) as grader:
                result = grader.grade(notebook)
            result.submission = str(notebook.relative_to(submission_dir))
            if result.error:
                result.error = result.error.replace(str(notebook), result.submission)
            results = gradescope_results(result)
            if results is None:
                print(for_terminal(f"grader failure (not the student's): {result.error}"), flush=True)
            elif note:
                results["output"] = f"{for_terminal(note)}\n{results['output']}"
    except Exception as exc:  # the grader's failure too: its details go to the staff's output only
        print(for_terminal(f"grader failure (not the student's): {type(exc).__name__}: {exc}"), flush=True)
        results = None
    if results is None:
        results_path.unlink(missing_ok=True)  # none left from an earlier run (a TA's local folder)
        print("no results.json written: Gradescope shows this submission as \"The autograder failed to "
              "execute correctly\" (an autograder error, not the student's fault) with no score from this "
              "run; rerun the autograder on it (Rerun Autograder, or Regrade All Submissions)", flush=True)
        return None
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(results, indent=1))
    return results
