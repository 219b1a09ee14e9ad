"""A grader error is never shown as a score: the TA's batch summary, the class dashboard (its table
and its statistics), the students' reports, and the CSV, Canvas and Gradescope exports show a dash
or a blank where a graded submission shows its points.

Real results: a small assignment graded for real, once on this machine and once where it preloads
a module this machine lacks (test_grader_environment's fault: a grader error, not the student's).
alice scores 1/1, bob a real 0/1, carol (a correct answer) is the grader's error."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

from conftest import MISSING_MODULE as MISSING, double_assignment, write_notebook
from tensorgrade.classroom.gradebook import Gradebook
from tensorgrade.course.assignment import load_assignment
from tensorgrade.grading.grader import Grader
from tensorgrade.safe_text import file_name

CORRECT = ["def double(x):\n    return 2 * x"]
WRONG = ["def double(x):\n    return 3 * x"]


def cli(*args, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tensorgrade", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200", **(env or {})})


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """The gradebook of the three, each result recorded as `run_batch` records it."""
    root = tmp_path_factory.mktemp("grader-errors")
    healthy = double_assignment(root / "healthy", ["numpy"])
    broken = double_assignment(root / "broken", ["numpy", MISSING])
    files = {"alice": write_notebook(root / "alice.ipynb", CORRECT), "bob": write_notebook(root / "bob.ipynb", WRONG),
             "carol": write_notebook(root / "carol.ipynb", CORRECT)}
    results = {}
    with Grader(load_assignment(healthy), jobs=1) as grader:
        results["alice"], results["bob"] = grader.grade(files["alice"]), grader.grade(files["bob"])
    with Grader(load_assignment(broken), jobs=1) as grader:
        results["carol"] = grader.grade(files["carol"])
    assert [(r.status, r.score, r.max_score) for r in results.values()] == [
        ("graded", 1, 1), ("graded", 0, 1), ("error", 0, 1)], {s: (r.status, r.error) for s, r in results.items()}
    assert f"`{MISSING}` is not installed" in results["carol"].error
    database = root / "grades.db"
    with Gradebook(database) as gradebook:
        for student, result in results.items():
            content_hash = hashlib.sha256(files[student].read_bytes()).hexdigest()
            gradebook.record(result, student=student, content_hash=content_hash,
                             fingerprint=load_assignment(broken if student == "carol" else healthy).fingerprint())
    return {"root": root, "healthy": healthy, "broken": broken, "files": files, "results": results,
            "database": database}


def test_the_batch_summary_shows_a_dash_for_an_error(graded):
    from rich.console import Console

    from tensorgrade.classroom.batch import BatchItem, BatchOutcome
    from tensorgrade.classroom.discovery import Submission
    from tensorgrade.classroom.display import outcome_line, summary_table

    items = [BatchItem(Submission(student, path, str(path), hashlib.sha256(path.read_bytes()).hexdigest()),
                       graded["results"][student]) for student, path in graded["files"].items()]
    console = Console(record=True, width=200, color_system=None)
    console.print(summary_table(BatchOutcome(items)))
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:4]]
            for line in console.export_text().splitlines() if line.count("│") > 4}
    assert rows["alice"] == ["1/1", "graded"] and rows["bob"] == ["0/1", "graded"]  # a real zero stays 0
    assert rows["carol"] == ["–", "error"], rows
    assert "1 error" in outcome_line(BatchOutcome(items))


def test_the_dashboard_shows_no_score_for_an_error_and_counts_only_graded_ones(graded, tmp_path):
    from tensorgrade.reports.dashboard import dashboard_view

    with Gradebook(graded["database"]) as gradebook:
        entries = gradebook.results("env_check")
    view = dashboard_view(entries, load_assignment(graded["healthy"]), histogram=False)
    scores = {row["student"]: (row["score"], row["max"], row["status"]) for row in view["students"]}
    assert scores == {"alice": ("1", "1", "graded"), "bob": ("0", "1", "graded"), "carol": ("–", "1", "error")}
    # the class's numbers are of alice and bob: carol's error is no 0 (which would make the mean 0.33)
    assert (view["graded"], view["mean"], view["median"], view["full_marks"]) == (2, "0.5", "0.5", 1)
    assert [(c["id"], c["passed"], c["count"]) for c in view["checks"]] == [("q1.double", 1, 2)]
    assert [p["student"] for p in view["problems"]] == ["carol"]

    out = tmp_path / "reports"
    proc = cli("report", graded["database"], "--assignment", "env_check", "--assignment-dir", graded["healthy"],
               "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = unescape((out / "dashboard.html").read_text())
    shown = dict(re.findall(r'<td>(\w+)</td>\s*<td class="num" data-label="score"><b>([^<]*)</b>', page))
    assert shown == {"alice": "1", "bob": "0", "carol": "–"}
    carol = page[page.index("<td>carol</td>"):].split("</tr>")[0]
    assert '<span class="chip failed">error</span>' in carol and "not installed" in carol
    assert '<div class="value">0.5</div><div class="label">mean / 1</div>' in page
    assert '<div class="value">0.5</div><div class="label">median</div>' in page

    # carol's own report (and her TA view) says the grader failed, with no score
    name = file_name("carol")
    for path in (out / "students" / f"{name}.html", out / "ta" / f"{name}.html"):
        html = unescape(path.read_text())
        assert '<span class="got">–</span><span class="of">/ 1</span>' in html, path
        assert "not graded: the grader failed (not your fault)" in html and "· – / 1</title>" in html
        assert '<span class="got">0</span>' not in html
    markdown = (out / "students" / f"{name}.md").read_text()
    assert "## Score: – / 1 (not graded: the grader failed, not your fault)" in markdown
    bob = (out / "students" / f"{file_name('bob')}.md").read_text()
    assert "## Score: 0 / 1 (0%)" in bob


def test_exports_leave_an_error_blank_and_gradescope_writes_no_results_for_it(graded, tmp_path):
    database = graded["database"]
    proc = cli("export", database, "--assignment", "env_check", "--format", "csv", "--out", tmp_path / "g.csv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO((tmp_path / "g.csv").read_text()))}
    assert (rows["carol"]["status"], rows["carol"]["total"], rows["carol"]["q1"]) == ("error", "", "")
    assert (rows["bob"]["total"], rows["alice"]["total"]) == ("0", "1")
    proc = cli("export", database, "--assignment", "env_check", "--format", "canvas", "--out", tmp_path / "c.csv")
    assert proc.returncode == 0 and "carol: grader error, left blank" in proc.stdout, proc.stdout
    canvas = {row[0]: row[-1] for row in csv.reader(io.StringIO((tmp_path / "c.csv").read_text()))}
    assert (canvas["carol"], canvas["bob"], canvas["alice"]) == ("", "0", "1")

    out = tmp_path / "gs"
    (out / file_name("carol")).mkdir(parents=True)
    (out / file_name("carol") / "results.json").write_text('{"score": 0.0}')  # from an earlier export
    proc = cli("export", database, "--assignment", "env_check", "--format", "gradescope", "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = " ".join(proc.stdout.split())
    assert "carol: grader error, no results.json" in text and "wrote 2 results.json" in text, text
    assert not (out / file_name("carol") / "results.json").exists()  # no score at all, not a 0
    assert json.loads((out / "index.json").read_text())[file_name("carol")] == "carol"
    scores = {s: json.loads((out / file_name(s) / "results.json").read_text())["score"] for s in ("alice", "bob")}
    assert scores == {"alice": 1.0, "bob": 0.0}
