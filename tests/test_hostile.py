"""The hostile corpus (tests/hostile) graded the way a TA grades a class: batches into a gradebook.

Every submission gets the outcome tests/hostile/expected.yaml gives it, and for all of them: the
batch completes with one result per student, nothing outside the work folders changes (the
assignment, the solutions, the other submissions, earlier rows of the gradebook), nothing hidden
reaches what a student sees (hidden checks' inputs and code, the secret seed, the grader's
environment), every isolation layer this host has is active, no loopback server is reached, no
process of any submission is left, and every batch's reports render from the gradebook as
`tensorgrade report` renders them: each student's files and the dashboard, none marked as not rendered.

The graders use copies of the three assignments and their solutions in tmp_path (so what is checked
for changes is exactly what they used, whatever else happens in the checkout meanwhile), with short
limits set on the loaded assignment: its files, fingerprint and cached reference outputs are the
usual ones; the mechanism is the same, endless loops just end sooner.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from tensorgrade.classroom import batch, discovery
from tensorgrade.sandbox.host import layers
from tensorgrade.course.assignment import load_assignment
from tensorgrade.classroom.gradescope import gradescope_results
from tensorgrade.classroom.gradebook import Gradebook
from tensorgrade.grading.grader import draw_all_inputs
from tensorgrade.reports.dashboard import load_entries, write_reports
from tensorgrade.reports.view import report_view
from conftest import ROOT, student_processes

HOSTILE = ROOT / "tests" / "hostile"
EXPECTED = yaml.safe_load((HOSTILE / "expected.yaml").read_text())
sys.path.insert(0, str(HOSTILE))
import build  # noqa: E402  (the corpus builder: generators for the big files)

CANARY = "HOSTILE-CANARY-" + secrets.token_hex(8)
LOOPBACK_PORT = 47123  # the network notebook knocks here
ABSTRACT_SOCKET = "\0tensorgrade-hostile-canary"
JOBS = 2
ASSIGNMENTS = ("a1_backprop", "a2_autograd", "a4_training")  # each graded as one batch


def fast(course: Path, assignment_id: str):
    """The assignment copied under `course`, with short limits; its files (and so its fingerprint and
    its cached reference outputs) unchanged."""
    assignment = load_assignment(course / "assignments" / assignment_id,
                                 solutions_dir=course / "solutions" / assignment_id)
    # 6 s: long enough for the heavy attack cells (filling a 1 GB tmpfs) on a loaded 2-core machine
    # (the suite runs two test processes at once), short enough for endless loops to stay cheap.
    assignment.cell_timeout = 6
    assignment.submission_timeout = 150
    assignment.checks = [dataclasses.replace(check, timeout=min(check.timeout, 12)) for check in assignment.checks]
    assignment.limits = dataclasses.replace(assignment.limits, memory_mb=4096)
    return assignment


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (links by their target), caches and bytecode left out."""
    digests = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if {".cache", "__pycache__", ".ipynb_checkpoints"} & set(relative.parts):
            continue
        if path.is_symlink():
            digests[str(relative)] = "link:" + os.readlink(path)
        elif path.is_file():
            digests[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def canvas_name(name: str, number: int) -> str:
    return f"{name.replace('_', '')}_{1000 + number}_{2000 + number}_a1_backprop.ipynb"


class Listener:
    """A TCP server on the host's loopback and an abstract unix socket: nothing may connect."""

    def __init__(self):
        self.accepted: list[str] = []
        self.servers = []
        for family, address in ((socket.AF_INET, ("127.0.0.1", LOOPBACK_PORT)), (socket.AF_UNIX, ABSTRACT_SOCKET)):
            server = socket.socket(family, socket.SOCK_STREAM)
            try:
                server.bind(address)
            except OSError:  # the port is taken on this machine: the other attempts still count
                server.close()
                continue
            server.listen(8)
            server.settimeout(0.5)
            self.servers.append(server)
            threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server) -> None:
        while True:
            try:
                connection, _ = server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted.append(repr(connection.recv(100)))
            connection.close()

    def close(self) -> None:
        for server in self.servers:
            server.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Both batches graded once; everything the tests below look at."""
    started = time.perf_counter()
    tmp = tmp_path_factory.mktemp("hostile")
    folder = tmp / "a2_submissions"
    folder.mkdir()
    for path in sorted((HOSTILE / "a2_autograd").glob("*.ipynb")):
        (folder / path.name).write_bytes(path.read_bytes())
    for name, generate in build.GENERATED.items():
        generate(folder / f"{name}.ipynb")
    (folder / "symlink_to_secret.ipynb").symlink_to(ROOT / "solutions" / "a2_autograd" / "a2_autograd.py")
    (folder / "notes").mkdir()
    (folder / "notes" / "canary.txt").write_text(CANARY)  # beside other submissions: must stay unseen
    a4_folder = tmp / "a4_submissions"
    a4_folder.mkdir()
    for path in sorted((HOSTILE / "a4_training").glob("*.ipynb")):
        (a4_folder / path.name).write_bytes(path.read_bytes())
    downloads = tmp / "lms"
    downloads.mkdir()
    a1_names = sorted(EXPECTED["a1_backprop"])
    lms = downloads / "a1_download.zip"
    with zipfile.ZipFile(lms, "w", zipfile.ZIP_DEFLATED) as bundle:
        for number, name in enumerate(a1_names):
            bundle.write(HOSTILE / "a1_backprop" / f"{name}.ipynb", canvas_name(name, number))
    archives = {name: make(downloads / f"{name}.zip") for name, make in build.ARCHIVES.items()}
    gradebook_dir = tmp / "gradebook"
    gradebook_dir.mkdir()
    (gradebook_dir / "canary.txt").write_text(CANARY)

    course = tmp / "course"
    for kind in ("assignments", "solutions"):
        for assignment_id in ASSIGNMENTS:
            shutil.copytree(ROOT / kind / assignment_id, course / kind / assignment_id,
                            ignore=shutil.ignore_patterns("__pycache__"))
    # What a sandbox could reach if a layer failed: the graded assignments (mounted in every sandbox)
    # and their solutions (never mounted), the other submissions, the downloads.
    watched = {f"{kind}/{assignment}": course / kind / assignment for kind in ("assignments", "solutions")
               for assignment in ASSIGNMENTS}
    watched.update(submissions=folder, a4_submissions=a4_folder, downloads=downloads)
    before = {name: tree_digest(path) for name, path in watched.items()}
    os.environ["TENSORGRADE_HOSTILE_CANARY"] = CANARY  # the grader's environment: must not reach a sandbox
    listener = Listener()
    outcome = {"archives": {}}
    try:
        with Gradebook(gradebook_dir / "grades.db") as gradebook:
            a1 = fast(course, "a1_backprop")
            with discovery.ExtractedArchive(lms) as found:
                outcome["a1_found"] = found
                outcome["a1"] = batch.run_batch(a1, found.submissions, batch.LocalExecutor(a1, jobs=JOBS), gradebook)
            a1_rows = gradings(gradebook_dir / "grades.db", "a1_backprop")
            a2 = fast(course, "a2_autograd")
            found = discovery.discover_folder(folder)
            outcome["a2_found"] = found
            outcome["a2"] = batch.run_batch(a2, found.submissions, batch.LocalExecutor(a2, jobs=JOBS), gradebook)
            outcome["a1_rows_before"], outcome["a1_rows_after"] = a1_rows, gradings(gradebook_dir / "grades.db",
                                                                                    "a1_backprop")
            outcome["a2_rows"] = gradings(gradebook_dir / "grades.db", "a2_autograd")
            a4 = fast(course, "a4_training")
            found = discovery.discover_folder(a4_folder)
            outcome["a4"] = batch.run_batch(a4, found.submissions, batch.LocalExecutor(a4, jobs=JOBS), gradebook)
            outcome["a4_rows"] = gradings(gradebook_dir / "grades.db", "a4_training")
        for name, archive in archives.items():
            archive_started = time.perf_counter()
            try:
                with discovery.ExtractedArchive(archive):
                    outcome["archives"][name] = "extracted"
            except discovery.UnsafeArchive as exc:
                outcome["archives"][name] = str(exc)
            outcome["archives"][name + ":seconds"] = time.perf_counter() - archive_started
    finally:
        os.environ.pop("TENSORGRADE_HOSTILE_CANARY", None)
        listener.close()
    outcome["processes_left"] = student_processes()
    outcome["after"] = {name: tree_digest(path) for name, path in watched.items()}
    outcome["before"] = before
    outcome["accepted"] = listener.accepted
    outcome["assignments"] = {"a1_backprop": a1, "a2_autograd": a2, "a4_training": a4}
    outcome["seconds"] = time.perf_counter() - started
    outcome["tmp"] = tmp
    outcome["gradebook"] = gradebook_dir / "grades.db"
    print(f"\nhostile corpus: {len(outcome['a2'].items)} a2 + {len(outcome['a1'].items)} a1 + "
          f"{len(outcome['a4'].items)} a4 submissions and "
          f"{len(archives)} archives in {outcome['seconds']:.1f} s (-j {JOBS})")
    slowest = sorted(((item.result.timing.get("execution", 0.0), item.submission.student)
                      for key in ("a1", "a2", "a4") for item in outcome[key].items), reverse=True)[:8]
    print("slowest (s in the sandbox): " + ", ".join(f"{name} {seconds:.1f}" for seconds, name in slowest))
    return outcome


def gradings(database: Path, assignment: str) -> list[tuple]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT id, student, content_hash, status, score, result_json FROM gradings "
                          "WHERE assignment = ? ORDER BY id", (assignment,)).fetchall()


def results_of(corpus, assignment_id: str) -> dict:
    """expected.yaml name -> result."""
    items = {item.submission.student: item.result for item in corpus[assignment_id.split("_")[0]].items}
    if assignment_id == "a1_backprop":
        return {name: items.get(name.replace("_", "")) for name in EXPECTED["a1_backprop"]}
    return {name: items.get(name) for name in EXPECTED[assignment_id]}


def student_visible(result, assignment) -> str:
    """Everything a student's report and Gradescope's results.json show of a result."""
    view = report_view(result, assignment, ta=False, sources={}, plots=False)
    return json.dumps(view, default=str) + json.dumps(gradescope_results(result))


def matches(status: str, allowed) -> bool:
    return status in (allowed if isinstance(allowed, list) else [allowed])


def cell_for(result, name: str, text: str, assignment_id: str = "a2_autograd"):
    """The result's cell whose source in the corpus notebook contains `text`."""
    import nbformat

    notebook = nbformat.read(HOSTILE / assignment_id / f"{name}.ipynb", as_version=4)
    for cell in result.cells:
        if text in notebook.cells[cell.index].source:
            return cell
    raise AssertionError(f"no cell of {name} contains {text!r}")


ENTRIES = [(assignment, name) for assignment in ("a2_autograd", "a1_backprop", "a4_training") for name in EXPECTED[assignment]]


@pytest.mark.parametrize("assignment_id, name", ENTRIES, ids=[name for _, name in ENTRIES])
def test_each_submission_gets_the_outcome_its_code_deserves(corpus, assignment_id, name):
    expected = EXPECTED[assignment_id][name]
    result = results_of(corpus, assignment_id)[name]
    assert result is not None, f"{name} was not graded"
    checks = {check.id: check for check in result.checks}
    summary = f"{name}: {result.status} {result.score}/{result.max_score} {result.error or ''}\n" + "\n".join(
        f"  {c.id}: {c.status} {c.message[:150]!r}" for c in result.checks if c.status != "passed") + "\n" + "\n".join(
        f"  integrity: {f[:150]}" for f in result.integrity)
    assert result.status == expected.get("status", "graded"), summary
    if result.status == "invalid":
        assert expected["error"] in (result.error or ""), summary
        assert result.error.startswith(result.submission), "the reason names the file"
        return
    if "score" in expected:
        assert result.score == expected["score"], summary
    if "max_score" in expected:
        assert result.score <= expected["max_score"], summary
    for check_id, allowed in expected.get("checks", {}).items():
        assert matches(checks[check_id].status, allowed), summary
    for check_id, text in expected.get("messages", {}).items():
        assert text in checks[check_id].message, (check_id, checks[check_id].message)
    findings = "\n".join(result.integrity)
    for text in expected.get("integrity", []):
        assert text in findings, f"{text!r} not among the integrity findings:\n{findings}"
    for check in result.checks:  # the TA always sees a reason
        assert check.status == "passed" or check.message.strip(), (check.id, check.status)
    if assignment_id != "a1_backprop" and name not in build.GENERATED:
        for text, allowed in expected.get("cells", {}).items():
            cell = cell_for(result, name, text, assignment_id)
            assert matches(cell.status, allowed), (text, cell.status, cell.error)
        for text, error in expected.get("cell_errors", {}).items():
            cell = cell_for(result, name, text, assignment_id)
            assert error in (cell.error or ""), (text, cell.error)
    if name == "five_mb_cell":
        refused = [cell for cell in result.cells if "over the 1 MB limit" in (cell.error or "")]
        assert len(refused) == 1 and refused[0].status == "error", result.cells
    output = "\n".join(cell.output + (cell.error or "") for cell in result.cells)
    for text in expected.get("output_absent", []):
        assert text not in output, "\n".join(line for line in output.splitlines() if text in line)[:3000]
    for text in expected.get("output_present", []):
        assert text in output, output[:3000]


def test_the_corpus_covers_every_category_with_forty_submissions_or_more():
    categories: dict[str, int] = {}
    for section in EXPECTED.values():
        for entry in section.values():
            categories[entry["category"]] = categories.get(entry["category"], 0) + 1
    assert sum(categories.values()) >= 40
    assert set(categories) == {"cheat", "hidden", "harm", "input"}
    assert min(categories.values()) >= 8, categories
    committed = {p.stem for p in (HOSTILE / "a2_autograd").glob("*.ipynb")}
    generated = set(build.GENERATED) | {"symlink_to_secret"}
    assert committed | generated == set(EXPECTED["a2_autograd"])
    assert {p.stem for p in (HOSTILE / "a1_backprop").glob("*.ipynb")} == set(EXPECTED["a1_backprop"])
    assert {p.stem for p in (HOSTILE / "a4_training").glob("*.ipynb")} == set(EXPECTED["a4_training"])
    assert set(build.ARCHIVES) == set(EXPECTED["archives"])


def test_the_batches_complete_and_lose_nothing(corpus):
    for key, assignment_id, rows_key in (("a2", "a2_autograd", "a2_rows"), ("a1", "a1_backprop", "a1_rows_after"),
                                         ("a4", "a4_training", "a4_rows")):
        outcome = corpus[key]
        students = [item.submission.student for item in outcome.items]
        assert all(item.result is not None for item in outcome.items)
        assert len(students) == len(set(students)) == len(EXPECTED[assignment_id])
        rows = corpus[rows_key]
        assert sorted(row[1] for row in rows) == sorted(students), "one gradebook row per student"
        assert not [item.submission.student for item in outcome.items if item.result.status == "error"], \
            "a grader error: the grader itself failed on a hostile submission"
    assert corpus["a1_rows_after"] == corpus["a1_rows_before"], "grading a2 changed a1's rows in the gradebook"


@pytest.fixture(scope="module")
def reports(corpus):
    """{assignment id: (entries, what write_reports wrote)}: each batch's reports rendered from the
    gradebook, as `tensorgrade report grades.db --assignment ID` renders them (load_entries, then
    write_reports)."""
    started = time.perf_counter()
    rendered = {}
    for assignment_id in ASSIGNMENTS:
        entries = load_entries(corpus["gradebook"], assignment_id)
        out = corpus["tmp"] / "reports" / assignment_id
        rendered[assignment_id] = entries, write_reports(entries, corpus["assignments"][assignment_id], out)
    print(f"\nhostile corpus reports: {sum(len(e) for e, _ in rendered.values())} students' reports and "
          f"{len(rendered)} dashboards in {time.perf_counter() - started:.1f} s")
    return rendered


def test_every_students_report_and_the_dashboard_are_written(reports):
    for assignment_id, (entries, written) in reports.items():
        assert len(entries) == len(EXPECTED[assignment_id]), "a student of the gradebook has no report"
        assert written["failed"] == [], (assignment_id, written["failed"])
        dashboard = written["dashboard"].read_text()
        assert "Reports that could not be rendered" not in dashboard
        for student, _ in entries:
            for kind in ("students", "markdown", "ta"):
                text = written[kind][student].read_text()
                assert "could not be rendered" not in text, (assignment_id, student, kind)
            assert f'href="students/{written["students"][student].name}"' in dashboard, (assignment_id, student)


PLOTTED = [(assignment, name) for assignment, name in ENTRIES if "plots" in EXPECTED[assignment][name]]


@pytest.mark.parametrize("assignment_id, name", PLOTTED, ids=[name for _, name in PLOTTED])
def test_curves_no_plot_can_take_are_drawn_clipped_and_the_caption_says_so(reports, assignment_id, name):
    _, written = reports[assignment_id]
    ta = written["ta"][name].read_text()
    for check_id, caption_text in EXPECTED[assignment_id][name]["plots"].items():
        start = ta.index(f'id="check-{check_id}"')
        end = ta.find('id="check-', start + 1)
        figure = re.search(r"<figure>.*?</figure>", ta[start:end if end > 0 else None], re.S)
        assert figure and "data:image/png;base64," in figure.group(), f"{check_id}: no plot drawn"
        caption = html.unescape(re.search(r"<figcaption>(.*?)</figcaption>", figure.group(), re.S).group(1))
        assert re.search(caption_text, caption), (check_id, caption)


def test_nothing_outside_the_work_folders_changed(corpus):
    for name in corpus["before"]:
        before, after = corpus["before"][name], corpus["after"][name]
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        assert not changed, f"{name}: {changed[:10]}"


def test_no_process_of_any_submission_remains(corpus):
    assert corpus["processes_left"] == []
    assert student_processes() == []


def test_no_loopback_server_was_reached(corpus):
    assert corpus["accepted"] == []


def test_every_isolation_layer_this_host_has_was_active(corpus):
    host = layers.detect_layers()
    for key in ("a1", "a2", "a4"):
        for item in corpus[key].items:
            result = item.result
            if result.status != "graded":
                continue
            off = {name: layer["detail"] for name, layer in result.isolation.items()
                   if not layer["active"] and host.layers.get(name) and host.layers[name].active}
            assert not off, (item.submission.student, off)


def hidden_values(assignment) -> list[str]:
    """Texts that only hidden checks know: their probes' function names, their inputs' values (where
    public inputs do not share them), the secret seed."""
    inputs = draw_all_inputs(assignment, assignment.secret_seed)
    public = set()
    hidden = set()
    for spec in assignment.checks:
        for value in _leaves(inputs.get(spec.id)):
            (public if spec.visibility == "public" else hidden).add(value)
    texts = sorted(hidden - public)
    source = (assignment.solutions_dir / "probes.py")
    probes = source.read_text() if source.exists() else assignment.probe_sources.get("hidden", "")  # a source's hidden probes
    texts += re.findall(r"^def ([a-z_]{6,})\(", probes, re.MULTILINE)
    texts.append(f"seed: {assignment.secret_seed}")
    return texts


def _leaves(value) -> list[str]:
    if isinstance(value, dict):
        return [text for v in value.values() for text in _leaves(v)]
    if isinstance(value, (list, tuple)):
        return [text for v in value[:3] for text in _leaves(v)]
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size:
        return [repr(float(v)) for v in value.reshape(-1)[:3] if len(repr(float(v))) > 8]
    if isinstance(value, float) and len(repr(value)) > 8:
        return [repr(value)]
    if type(value) is int and len(repr(value)) > 8:  # a seed drawn from the secret seed (a model's start)
        return [repr(value)]
    return []


def test_nothing_hidden_reaches_what_a_student_sees(corpus):
    for key, assignment_id in (("a1", "a1_backprop"), ("a2", "a2_autograd"), ("a4", "a4_training")):
        assignment = corpus["assignments"][assignment_id]
        secrets_ = hidden_values(assignment)
        assert len(secrets_) >= 5  # a4's hidden inputs are rows of the students' own file: its models' seeds remain
        for item in corpus[key].items:
            visible = student_visible(item.result, assignment)
            leaked = [text for text in secrets_ if text in visible]
            assert not leaked, (item.submission.student, leaked[:5])


def test_the_graders_environment_and_files_stay_unseen(corpus):
    for key in ("a1", "a2", "a4"):
        for item in corpus[key].items:
            everything = json.dumps(item.result.to_json())
            assert CANARY not in everything, item.submission.student


def test_symlinked_submission_is_never_read(corpus):
    result = results_of(corpus, "a2_autograd")["symlink_to_secret"]
    seed = str(corpus["assignments"]["a2_autograd"].secret_seed)  # the source's secret seed
    assert seed not in json.dumps(result.to_json())


@pytest.mark.parametrize("name", sorted(EXPECTED["archives"]))
def test_unsafe_lms_downloads_are_refused_whole(corpus, name):
    expected = EXPECTED["archives"][name]
    reason = corpus["archives"][name]
    assert reason != "extracted"
    assert re.search(expected["refused"], reason), reason
    assert "roejim_22222_33333_a2_autograd.ipynb" in reason, "the reason names the member"
    assert corpus["archives"][name + ":seconds"] < 60
    leftovers = [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("tensorgrade-submissions-*")
                 if any(p.rglob("roejim*"))]
    assert not leftovers, leftovers
