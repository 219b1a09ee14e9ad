"""a2_autograd graded end to end in the real sandbox: reference, template, every sample."""

import json
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, student_processes

SAMPLES = ROOT / "solutions" / "a2_autograd" / "samples"
EXPECTED = yaml.safe_load((SAMPLES / "expected.yaml").read_text())


def test_reference_scores_full(a2_grader):
    result = a2_grader.grade(ROOT / "solutions" / "a2_autograd" / "solution.ipynb")
    assert result.status == "graded"
    assert result.score == result.max_score == 10, [(c.id, c.message) for c in result.checks if c.status != "passed"]
    assert all(cell.status == "ok" for cell in result.cells)
    assert result.integrity == []


def test_template_scores_zero_without_grader_errors(a2_grader):
    result = a2_grader.grade(ROOT / "assignments" / "a2_autograd" / "a2_autograd.ipynb")
    assert result.status == "graded" and result.score == 0
    assert {c.diagnosis for c in result.checks} == {"not-implemented"}
    assert all("NotImplementedError" in c.message for c in result.checks)


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_sample_gets_expected_score_and_diagnosis(a2_grader, sample):
    expected = EXPECTED[sample]
    result = a2_grader.grade(SAMPLES / f"{sample}.ipynb")
    got = {c.id: c.diagnosis for c in result.checks if c.status != "passed"}
    assert result.score == expected["score"], got
    for check_id, diagnosis in expected.get("diagnoses", {}).items():
        assert got.get(check_id) == diagnosis, f"{check_id}: {got.get(check_id)} != {diagnosis}"
    for check_id in expected.get("errors", []):
        check = next(c for c in result.checks if c.id == check_id)
        assert check.status == "error" and "your code raised" in check.message
    assert not student_processes()


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
    paths = [SAMPLES / "correct.ipynb", broken, tmp_path / "missing.ipynb", script, SAMPLES / "stub_left.ipynb"]
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(ROOT / "assignments" / "a2_autograd"),
                           *map(str, paths), "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    assert [r["submission"] for r in results] == [str(p) for p in paths]
    assert [r["status"] for r in results] == ["graded", "invalid", "invalid", "invalid", "graded"]
    assert [r["score"] for r in results] == [10, 0, 0, 0, 7]
    assert "not valid notebook JSON" in results[1]["error"] and "broken.ipynb" in results[1]["error"]
    assert "not found" in results[2]["error"] and "renamed" in results[3]["error"]
    first = results[0]
    assert set(first) >= {"submission", "assignment", "version", "status", "error", "score", "max_score", "checks",
                          "cells", "integrity", "isolation", "timing"}
    assert set(first["checks"][0]) >= {"id", "question", "points", "max_points", "status", "message", "diagnosis",
                                       "visibility"}
    assert first["isolation"]["namespaces"]["active"] in (True, False)
    assert "total: 10 / 10" in proc.stdout and "q3.final_loss" in proc.stdout


def test_doctor_lists_every_layer():
    proc = subprocess.run([sys.executable, "-m", "autograder", "doctor"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for layer in ("namespaces", "network", "uid", "seccomp", "landlock", "rlimits", "process_tree_kill"):
        assert layer in proc.stdout
