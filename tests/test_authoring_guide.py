"""docs/authoring.md, followed literally: the commands of its first console block, run one after the
other in a fresh course folder, take a new instructor from nothing to a released, graded assignment
whose samples get their diagnoses."""

import os
import re
import shlex
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

GUIDE = ROOT / "docs" / "authoring.md"


def guide_commands() -> list[str]:
    block = re.search(r"```console\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    assert block, f"{GUIDE} has no console block"
    return [line[2:] for line in block.group(1).splitlines() if line.startswith("$ ")]


def test_the_guide_starts_with_the_commands_a_new_instructor_runs():
    commands = [shlex.split(c)[:2] for c in guide_commands()]
    assert commands == [["tensorgrade", "new"], ["tensorgrade", "thresholds"], ["tensorgrade", "build"],
                        ["tensorgrade", "release"], ["tensorgrade", "grade"], ["tensorgrade", "report"]]


@pytest.mark.slow
def test_following_the_guide_literally_releases_and_grades_a_new_assignment(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in guide_commands():
        run = subprocess.run(command, shell=True, cwd=course, env=env, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, f"$ {command}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        if "--validate" in command:
            assert "validated: the reference scores full" in run.stdout, run.stdout

    assert (course / "solutions" / "a7_demo" / "a7_demo.py").is_file()
    with zipfile.ZipFile(course / "release" / "a7_demo.zip") as released:
        names = set(released.namelist())
        text = "\n".join(released.read(n).decode(errors="replace") for n in names)
    assert "a7_demo/a7_demo.ipynb" in names and "a7_demo/expectations.json" in names
    assert not any(n.endswith("a7_demo.py") or "/samples/" in n or "thresholds" in n for n in names), names
    assert "hidden-checks" not in text and "mistake(" not in text and "line_loss" not in text

    with sqlite3.connect(course / "grades.db") as db:
        scores = dict(db.execute("SELECT student, score FROM gradings WHERE status = 'graded'"))
        diagnoses = set(db.execute("SELECT check_id, diagnosis FROM check_results WHERE diagnosis IS NOT NULL"))
    assert len(scores) == 5 and sorted(scores.values()) == [5, 5, 5, 6, 7], scores
    assert {("q2.backward", "missing-factor-2"), ("q1.large_inputs", "no-max-shift"),
            ("q4.returns", "forgot-zero-grad"), ("q4.returns", "not-implemented")} <= diagnoses
    assert list((course / "reports").rglob("*.html"))
