"""a2_autograd specifics: gradient messages, the CLI's JSON and invalid files, doctor.

The reference, template and samples of every assignment are graded in test_course.py."""

import json
import subprocess
import sys

from conftest import ROOT

SAMPLES = ROOT / "solutions" / "a2_autograd" / "samples"


def test_gradient_message_names_entry_values_and_ratio(a2_grader):
    result = a2_grader.grade(SAMPLES / "backward_missing_factor.ipynb")
    gradcheck = next(c for c in result.checks if c.id == "q1.gradcheck")
    assert "d out[" in gradcheck.message and "yours" in gradcheck.message and "(ratio 0.667)" in gradcheck.message


def test_cli_json_keeps_order_and_grades_around_invalid_files(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    script = tmp_path / "script.ipynb"
    script.write_text("import torch\n")
    out = tmp_path / "results.json"
    # (a notebook that does not exist is an error before anything is graded: tests/test_batch.py)
    paths = [SAMPLES / "correct.ipynb", broken, script, SAMPLES / "stub_left.ipynb"]
    proc = subprocess.run([sys.executable, "-m", "tensorgrade", "grade", str(ROOT / "assignments" / "a2_autograd"),
                           *map(str, paths), "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    assert [r["submission"] for r in results] == [str(p) for p in paths]
    assert [r["status"] for r in results] == ["graded", "invalid", "invalid", "graded"]
    assert [r["score"] for r in results] == [10, 0, 0, 7]
    assert "not valid notebook JSON" in results[1]["error"] and "broken.ipynb" in results[1]["error"]
    assert "renamed" in results[2]["error"]
    first = results[0]
    assert set(first) >= {"submission", "assignment", "version", "status", "error", "score", "max_score", "checks",
                          "cells", "integrity", "isolation", "timing"}
    assert set(first["checks"][0]) >= {"id", "question", "points", "max_points", "status", "message", "diagnosis",
                                       "visibility"}
    assert first["isolation"]["namespaces"]["active"] in (True, False)
    assert "total: 10 / 10" in proc.stdout and "q3.final_loss" in proc.stdout


def test_doctor_lists_every_layer():
    proc = subprocess.run([sys.executable, "-m", "tensorgrade", "doctor"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for layer in ("namespaces", "network", "uid", "seccomp", "landlock", "rlimits", "process_tree_kill"):
        assert layer in proc.stdout
