"""Grading beyond one machine: submissions as Dask tasks, each Dask worker a warm sandboxed grader.

    driver (tensorgrade grade --executor dask)          Dask workers (one per core or per node)
      reads each submission's bytes   --- task --->      GraderPlugin: one warm `Grader` per worker
      writes the gradebook (alone)    <-- result ---     grades in its own bubblewrap sandboxes

The driver alone touches the gradebook; workers only return result JSON.  A worker that dies
mid-submission (killed, out of memory) is restarted by its nanny and Dask reschedules the task on
another worker, up to the scheduler's `allowed-failures`; then the submission is recorded as a grader
error with the reason, and the batch goes on.  Workers need this package, torch and bubblewrap,
and the assignment and solutions folders at the same paths (a shared filesystem, as on SLURM).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from tensorgrade.grading.results import SubmissionResult

PLUGIN_PREFIX = "tensorgrade-grader"


def require_dask():
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise SystemExit("Dask is not installed: `.venv/bin/pip install -e '.[dask]'` "
                         "(dask and distributed) to grade on a cluster") from None
    return distributed


def _plugin_name(assignment_dir: Path, solutions_dir: Path | None) -> str:
    return f"{PLUGIN_PREFIX}:{assignment_dir}:{solutions_dir}"


def _grader_plugin_class():
    distributed = require_dask()

    class GraderPlugin(distributed.WorkerPlugin):
        """Keeps one warm Grader per Dask worker process, created on first use."""

        def __init__(self, assignment_dir: str, solutions_dir: str | None):
            self.assignment_dir = assignment_dir
            self.solutions_dir = solutions_dir
            self._grader = None
            self._reported = 0  # of the pool's restarts, those already returned with a task's result

        def setup(self, worker) -> None:
            import threading

            self._grader = None
            self._reported = 0
            self._lock = threading.Lock()

        def new_restarts(self) -> int:
            """The grading workers this worker's pool replaced since the last call: each counted once,
            even when tasks of one Dask worker run side by side (more than one thread)."""
            with self._lock:
                total = self._grader.pool.restarts if self._grader is not None else 0
                new, self._reported = total - self._reported, total
                return new

        def grader(self):
            if self._grader is None:
                from tensorgrade.course.assignment import load_assignment
                from tensorgrade.grading.grader import Grader

                self._grader = Grader(load_assignment(self.assignment_dir, self.solutions_dir), jobs=1)
            return self._grader

        def teardown(self, worker) -> None:
            if self._grader is not None:
                self._grader.close()
                self._grader = None

    return GraderPlugin


def grade_on_worker(plugin_name: str, name: str, content: bytes) -> dict:
    """A Dask task: grade one submission with this worker's warm grader."""
    from distributed import get_worker

    plugin = get_worker().plugins[plugin_name]
    grader = plugin.grader()
    with tempfile.TemporaryDirectory(prefix="tensorgrade-dask-") as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(content)
        result = grader.grade(path)
    result.submission = name
    if result.error:
        result.error = result.error.replace(str(path), name)
    # The sandboxed workers this Dask worker's pool replaced meanwhile, for the driver's batch summary.
    return result.to_json() | {"worker": get_worker().address, "restarts": plugin.new_restarts()}


@dataclass
class DaskExecutor:
    scheduler: str
    assignment_dir: Path
    solutions_dir: Path | None = None
    retries: int = 1  # task-level retries for exceptions; worker deaths are bounded by allowed-failures
    # Sandboxed grading workers replaced on the Dask workers during the last `grade` (grader failures,
    # unclean slots), as each task reports its own; a Dask worker that died is not among them.
    restarts: int = field(default=0, init=False)

    def grade(self, paths: Iterable[Path], on_result: Callable[[SubmissionResult], None] | None = None,
              assignment_id: str = "", version: str = "") -> list[SubmissionResult]:
        """Grade every path on the cluster; results in input order, each passed to `on_result` as it
        completes (the driver's gradebook writes happen there)."""
        distributed = require_dask()
        paths = list(paths)
        self.restarts = 0
        plugin_name = _plugin_name(self.assignment_dir.resolve(),
                                   self.solutions_dir.resolve() if self.solutions_dir else None)
        results: dict[int, SubmissionResult] = {}
        with distributed.Client(self.scheduler, timeout="30s") as client:
            plugin = _grader_plugin_class()(str(self.assignment_dir.resolve()),
                                            str(self.solutions_dir.resolve()) if self.solutions_dir else None)
            # Registering again would replace each worker's plugin and throw its warm grader away; the
            # scheduler keeps registered plugins for workers that join or restart later.
            present = client.run(lambda dask_worker: plugin_name in dask_worker.plugins)
            if not present or not all(present.values()):
                client.register_plugin(plugin, name=plugin_name)
            futures = {}
            for index, path in enumerate(paths):
                try:
                    content = Path(path).read_bytes()
                except OSError as exc:
                    results[index] = SubmissionResult(submission=str(path), assignment=assignment_id, version=version,
                                                      status="invalid", error=f"{path}: cannot read: {exc.strerror}")
                    if on_result:
                        on_result(results[index])
                    continue
                future = client.submit(grade_on_worker, plugin_name, str(path), content, pure=False,
                                       retries=self.retries, key=f"grade-{index}-{Path(path).name}-{time.time_ns()}")
                futures[future] = index
            for future in distributed.as_completed(futures):
                index = futures[future]
                try:
                    data = future.result()
                    data.pop("worker", None)
                    self.restarts += int(data.pop("restarts", 0) or 0)
                    result = SubmissionResult.from_json(data)
                except (distributed.scheduler.KilledWorker, CancelledError) as exc:
                    result = SubmissionResult(
                        submission=str(paths[index]), assignment=assignment_id, version=version, status="error",
                        error=f"grader error (not the student's fault, regrade): the Dask worker grading it died "
                              f"repeatedly and the scheduler gave up ({type(exc).__name__}: {exc})")
                except Exception as exc:
                    result = SubmissionResult(
                        submission=str(paths[index]), assignment=assignment_id, version=version, status="error",
                        error=f"grader error (not the student's fault, regrade): {type(exc).__name__}: {exc}")
                results[index] = result
                if on_result:
                    on_result(result)
        return [results[i] for i in range(len(paths))]


# ---------------------------------------------------------------------------------------------
# A local cluster for trying it: a real scheduler and real workers on 127.0.0.1
# ---------------------------------------------------------------------------------------------

@dataclass
class LocalCluster:
    workers: int = 2
    port: int = 0
    allowed_failures: int = 3

    def __post_init__(self):
        self.processes: list[subprocess.Popen] = []
        self.address = ""

    def _dask(self) -> str:
        return str(Path(sys.executable).with_name("dask"))

    def start(self) -> "LocalCluster":
        require_dask()
        env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=str(self.allowed_failures))
        port = self.port or _free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        scheduler = subprocess.Popen([self._dask(), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                      "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self.processes.append(scheduler)
        for _ in range(self.workers):
            # one task at a time per worker: each keeps one warm sandboxed grader
            self.processes.append(subprocess.Popen(
                [self._dask(), "worker", self.address, "--nthreads", "1", "--nworkers", "1",
                 "--no-dashboard", "--host", "127.0.0.1", "--death-timeout", "60"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        self._wait_for_workers()
        return self

    def _wait_for_workers(self, timeout: float = 60) -> None:
        distributed = require_dask()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with distributed.Client(self.address, timeout="5s") as client:
                    client.wait_for_workers(self.workers, timeout=max(1, deadline - time.monotonic()))
                    return
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the local Dask cluster at {self.address} did not come up in {timeout} s")
                time.sleep(0.5)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes = []

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SLURM_TEMPLATE = """\
# Workers on a SLURM cluster with dask-jobqueue (pip install dask-jobqueue), from the driver:
from dask_jobqueue import SLURMCluster
cluster = SLURMCluster(
    cores=2, processes=2, memory="16GB", walltime="02:00:00",
    python="{python}",                    # the same virtualenv on a shared filesystem
    worker_extra_args=["--nthreads", "1"],  # one submission at a time per worker process
    job_script_prologue=["command -v bwrap || echo 'bubblewrap missing on this node'"],
)
cluster.scale(jobs=10)
print(cluster.job_script())
print(cluster.scheduler_address)          # pass to: tensorgrade grade ... --executor dask --scheduler ADDRESS
"""
