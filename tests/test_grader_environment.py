"""A grading machine that lacks a module an assignment preloads (TensorFlow for a6 without the
`tensorflow` extra) reports a grader error that names the module and how to install it, instead of
failing the student; tried for real with an assignment whose preload is not installed."""

import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tensorgrade.course.assignment import load_assignment
from tensorgrade.sandbox.host.preload import install_hint
from tensorgrade.grading.grader import Grader
from conftest import MISSING_MODULE as MISSING, ROOT, double_assignment, student_processes, write_notebook

@pytest.fixture
def assignment_dir(tmp_path) -> Path:
    """A small, valid assignment whose workers preload a module this machine does not have."""
    return double_assignment(tmp_path, ["numpy", MISSING])


def test_missing_preload_is_a_grader_error_naming_the_module_not_a_failed_student(assignment_dir, tmp_path):
    submission = write_notebook(tmp_path / "student.ipynb", ["def double(x):\n    return 2 * x"])
    with Grader(load_assignment(assignment_dir), jobs=1) as grader:
        result = grader.grade(submission)
        assert result.status == "error"
        assert result.checks == [] and result.score == 0
        assert result.error.startswith("grader error (not the student's fault, regrade): ")
        assert f"`{MISSING}` is not installed on this grading machine" in result.error
        assert "env_check preloads it (worker.preload" in result.error
        assert f"pip install {MISSING}" in result.error and sys.executable in result.error
        # The workers are not started again for every submission: the same answer, at once.
        started = time.perf_counter()
        again = grader.grade(submission)
        assert again.status == "error" and again.error == result.error
        assert time.perf_counter() - started < 2
    assert not student_processes()


def test_cli_reports_the_missing_module_and_exits_nonzero(assignment_dir, tmp_path):
    submissions = tmp_path / "class"
    submissions.mkdir()
    write_notebook(submissions / "s001.ipynb", ["def double(x):\n    return 2 * x"])
    for args in ([str(submissions / "s001.ipynb")], [str(submissions), "--gradebook", str(tmp_path / "g.db")]):
        run = subprocess.run([sys.executable, "-m", "tensorgrade", "grade", str(assignment_dir), *args],
                             capture_output=True, text=True, timeout=300)
        output = " ".join((run.stdout + run.stderr).split())  # rich wraps long lines
        assert run.returncode == 2, output
        assert f"`{MISSING}` is not installed on this grading machine" in output
        assert "Traceback" not in output


def test_install_hint_names_the_package_extra_of_that_name():
    hint = install_hint("tensorflow")
    assert hint.startswith("pip install -c constraints.txt '.[tensorflow]' (tensorflow-cpu>=")
    assert install_hint("dask.distributed").startswith("pip install -c constraints.txt '.[dask]' (dask>=")
    pinned = (Path(__file__).resolve().parent.parent / "constraints.txt").read_text()
    assert "\ntensorflow_cpu==" in pinned or "\ntensorflow-cpu==" in pinned  # the version the hint installs


def test_gradescope_setup_installs_the_extras_an_assignment_preloads(tmp_path):
    from tensorgrade.classroom.gradescope import build_gradescope_zip

    pinned = '"$VENV/bin/pip" install -c "$SOURCE/package/constraints.txt" '
    for assignment_id, line in (("a6_tensorflow", pinned + '"$SOURCE/package[grader,tensorflow]"'),
                                ("a2_autograd", pinned + '"$SOURCE/package[grader]"\n')):
        archive = tmp_path / f"{assignment_id}.zip"
        build_gradescope_zip(load_assignment(ROOT / "assignments" / assignment_id), archive)
        with zipfile.ZipFile(archive) as bundle:
            assert line in bundle.read("setup.sh").decode()
