"""Grading on a real local Dask cluster: a scheduler and two worker processes on 127.0.0.1."""

import os
import signal
import threading
import time

import pytest

from conftest import ROOT, solution_cells, student_processes, write_notebook

distributed = pytest.importorskip("distributed")

from tensorgrade.classroom.cluster import DaskExecutor, LocalCluster  # noqa: E402

A2 = ROOT / "assignments" / "a2_autograd"
SAMPLES = sorted((ROOT / "solutions" / "a2_autograd" / "samples").glob("*.ipynb"))


def _comparable(result):
    return (result.status, result.score, [(c.id, c.status, c.points, c.diagnosis) for c in result.checks])


def _dask_processes(pids):
    return [p for p in pids if os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().split()[2] != "Z"]


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(workers=2) as cluster:
        yield cluster
    pids = [p.pid for p in cluster.processes]
    assert not _dask_processes(pids)


def test_results_match_local_grading(cluster, a2_grader):
    seen = []
    results = DaskExecutor(cluster.address, A2).grade(SAMPLES, on_result=seen.append,
                                                       assignment_id="a2_autograd", version="1.0")
    assert [r.submission for r in results] == [str(p) for p in SAMPLES]
    assert len(seen) == len(SAMPLES)
    local = [a2_grader.grade(p) for p in SAMPLES]
    assert [_comparable(r) for r in results] == [_comparable(r) for r in local]


def test_submission_survives_a_worker_killed_mid_grading(cluster, tmp_path):
    slow = write_notebook(tmp_path / "slow.ipynb", ["import time\ntime.sleep(6)", *solution_cells("a2_autograd")])
    results = []
    grading = threading.Thread(target=lambda: results.extend(
        DaskExecutor(cluster.address, A2).grade([slow], assignment_id="a2_autograd", version="1.0")))
    grading.start()
    with distributed.Client(cluster.address) as client:
        deadline = time.monotonic() + 60
        busy = {}
        while time.monotonic() < deadline and not busy:
            busy = {w: tasks for w, tasks in client.processing().items() if tasks}
            time.sleep(0.2)
        assert busy, "the task never started"
        time.sleep(2)  # inside the submission's cells
        worker = next(iter(busy))
        pid = client.run(os.getpid, workers=[worker])[worker]
        os.kill(pid, signal.SIGKILL)
    grading.join(timeout=240)
    assert results and results[0].status == "graded" and results[0].score == 10
    assert not student_processes()


def test_worker_deaths_beyond_the_limit_are_recorded_and_the_batch_completes(tmp_path):
    slow = write_notebook(tmp_path / "slow.ipynb", ["import time\ntime.sleep(8)", *solution_cells("a2_autograd")])
    quick = ROOT / "solutions" / "a2_autograd" / "samples" / "correct.ipynb"
    with LocalCluster(workers=2, allowed_failures=0) as cluster:
        results = []
        grading = threading.Thread(target=lambda: results.extend(
            DaskExecutor(cluster.address, A2, retries=0).grade([slow, quick], assignment_id="a2_autograd",
                                                                version="1.0")))
        grading.start()
        with distributed.Client(cluster.address) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(client.processing().values()):
                time.sleep(0.2)
            time.sleep(3)
            worker = next(w for w, tasks in client.processing().items()
                          if any(str(task).startswith("grade-0-") for task in tasks))
            os.kill(client.run(os.getpid, workers=[worker])[worker], signal.SIGKILL)
        grading.join(timeout=240)
    assert [r.status for r in results] == ["error", "graded"]
    assert "died" in results[0].error and results[1].score == 10
    assert not student_processes()


def test_cli_grades_through_the_cluster(cluster, tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "tensorgrade", "grade", str(A2), *map(str, SAMPLES[:3]),
                           "--executor", "dask", "--scheduler", cluster.address, "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(out.read_text())
    assert [r["submission"] for r in results] == [str(p) for p in SAMPLES[:3]]
    assert all(r["status"] == "graded" for r in results)


def test_cluster_batch_writes_the_gradebook_and_a_rerun_skips_everything(cluster, tmp_path):
    import shutil
    import sqlite3
    import subprocess
    import sys

    submissions = tmp_path / "submissions"
    for sample in SAMPLES[:4]:
        (submissions / sample.stem).mkdir(parents=True)
        shutil.copy(sample, submissions / sample.stem / "a2_autograd.ipynb")
    db = tmp_path / "grades.db"
    command = [sys.executable, "-m", "tensorgrade", "grade", str(A2), str(submissions), "--gradebook", str(db),
               "--executor", "dask", "--scheduler", cluster.address]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0
    assert "4 unchanged" in second.stdout, second.stdout[-1500:]
    with sqlite3.connect(db) as connection:
        rows = connection.execute("select count(*), count(distinct student) from gradings").fetchone()
    assert rows == (4, 4)  # each graded exactly once, by the driver alone


def test_workers_retired_on_a_dask_worker_are_counted_in_the_batch_summary(tmp_path):
    """The sandboxed workers a Dask worker's pool replaces reach the driver's summary. The fault is
    test_worker_retirement's: an immutable folder put into the warm sandbox's private /dev/shm from
    the host, so the slot check before the next submission retires that worker."""
    import json
    import shutil
    import subprocess
    import sys

    from test_worker_retirement import plant, sandboxed_below, skip_without_immutable_files

    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("reaching into a sandbox through /proc/<pid>/root and chattr +i need root and chattr")
    correct = ROOT / "solutions" / "a2_autograd" / "samples" / "correct.ipynb"
    with LocalCluster(workers=1) as cluster:  # one Dask worker: the next submission is on the dirty slot
        def batch(name: str) -> subprocess.CompletedProcess:
            folder = tmp_path / name
            (folder / "alice").mkdir(parents=True)
            shutil.copy(correct, folder / "alice" / "a2_autograd.ipynb")
            proc = subprocess.run([sys.executable, "-m", "tensorgrade", "grade", str(A2), str(folder), "--executor",
                                   "dask", "--scheduler", cluster.address, "--json", str(tmp_path / f"{name}.json")],
                                  capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
            assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
            [result] = json.loads((tmp_path / f"{name}.json").read_text())
            assert result["status"] == "graded" and result["score"] == result["max_score"] > 0, result
            return proc

        first = batch("warm")  # starts the Dask worker's grader and its sandboxed worker
        assert "replaced" not in first.stdout, first.stdout[-1500:]
        with distributed.Client(cluster.address) as client:
            [pid] = client.run(os.getpid).values()
        root = sandboxed_below(pid)
        skip_without_immutable_files(root / "dev" / "shm")
        plant(root / "dev" / "shm")
        second = batch("dirty")
        assert "1 grading worker(s) replaced" in second.stdout, second.stdout[-1500:]
        assert not root.exists(), "the dirty sandboxed worker was not replaced"
        third = batch("clean")  # counted per batch: the fresh worker's clean slot replaces nothing
        assert "replaced" not in third.stdout, third.stdout[-1500:]
