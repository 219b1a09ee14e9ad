"""Grader side of execution: warm sandboxed workers, and one job in -> one ExecutionRecord out.

A job is a notebook's code cells plus the probes to run after them; its record is what happened:
per-cell status, each probe's raw output, integrity findings, isolation layers, timing.  The
record is read from the job folder only after the worker says the job is done, and parsed with
`transport.loads` (strict JSON, size-capped, no code).
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tensorgrade.sandbox.host import layers as isolation
from tensorgrade.sandbox import transport

WORKER_START_TIMEOUT = 180.0
JOBS_MOUNT = "/jobs"
ASSIGNMENT_MOUNT = "/assignment"
WORK_ROOT_IN_SANDBOX = "/tmp/work"


class ExecutionError(RuntimeError):
    """The grader could not run a job (a worker failed to start or died): not the student's fault."""


class GraderEnvironmentError(ExecutionError):
    """This grading machine lacks something the assignment needs (a module it preloads): the
    grader's installation is to fix, and every submission of the assignment waits for it."""


def package_extra(module: str) -> tuple[str, list[str]] | None:
    """tensorgrade's optional extra named after `module`'s top-level package (`tensorflow` for
    `tensorflow`, `dask` for `dask.distributed`) with its pinned requirements, or None."""
    from importlib import metadata

    top = module.split(".")[0]
    try:
        dist = metadata.distribution("tensorgrade")
    except metadata.PackageNotFoundError:
        return None
    if top not in (dist.metadata.get_all("Provides-Extra") or []):
        return None
    return top, [r.split(";")[0].strip() for r in dist.requires or []
                 if r.replace(" ", "").replace("'", '"').endswith(f'extra=="{top}"')]


def install_hint(module: str) -> str:
    """How to install `module` for the grader: tensorgrade's extra of that name when it has one
    (`pip install '.[tensorflow]'`, with the pinned requirement), otherwise the module itself."""
    extra = package_extra(module)
    if extra is not None:
        name, pinned = extra
        return (f"pip install '.[{name}]'" + (f" ({', '.join(pinned)})" if pinned else "")
                + f" from tensorgrade's source folder, into the grader's Python ({sys.executable})")
    top = module.split(".")[0]
    return f"pip install {top} (or the package that provides the module `{top}`) into the grader's Python ({sys.executable})"


def preload_failure_message(assignment: str, module: str, error: str) -> str:
    what = ("is not installed on this grading machine" if error.startswith("ModuleNotFoundError")
            else "cannot be imported on this grading machine")
    return (f"`{module}` {what}: assignment {assignment} preloads it (worker.preload in its assignment.yaml), so "
            f"no submission of it can be graded here ({error}). Install it with {install_hint(module)}, "
            "then grade again. The submission itself was not judged.")


@dataclass
class ExecutionSettings:
    cell_timeout: float = 60.0
    submission_timeout: float = 600.0
    limits: isolation.Limits = field(default_factory=isolation.Limits)
    threads: int = 1


@dataclass
class ProbeRequest:
    check: str
    module: str  # which probes module: "public" or "hidden"
    probe: str  # function name in that module
    inputs: Any
    timeout: float
    # "public" checks run first, in a stage of their own: what students see of them is final
    # before any hidden check's code or inputs enter the process
    visibility: str = "hidden"


@dataclass
class Job:
    cells: list[tuple[int, str]]  # (notebook cell index, source)
    probe_sources: dict[str, str]
    probes: list[ProbeRequest]
    files: list[str]  # paths relative to the assignment folder, copied into the work folder
    settings: ExecutionSettings


@dataclass
class CellRecord:
    index: int
    status: str  # ok | error | timeout | skipped
    error: str | None = None
    seconds: float = 0.0
    output: str = ""


@dataclass
class ProbeRecord:
    status: str  # ok | error | not_defined | timeout | missing
    output: Any = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class ExecutionRecord:
    cells: list[CellRecord]
    probes: dict[str, ProbeRecord]
    integrity: list[str]
    isolation: dict[str, dict]
    aborted: str | None
    seconds: float
    output_dropped: int = 0


class _Launcher:
    """Starts processes from one long-lived thread.

    bwrap's --die-with-parent is PR_SET_PDEATHSIG, which fires when the *thread* that started
    it ends; workers started from short-lived threads would be killed with them.
    """

    def __init__(self):
        self._requests: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="tensorgrade-launcher", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            request = self._requests.get()
            if request is None:
                return
            kwargs, reply = request
            try:
                reply.put(subprocess.Popen(**kwargs))
            except BaseException as exc:
                reply.put(exc)

    def popen(self, **kwargs) -> subprocess.Popen:
        reply: queue.Queue = queue.Queue()
        self._requests.put((kwargs, reply))
        result = reply.get()
        if isinstance(result, BaseException):
            raise result
        return result

    def stop(self) -> None:
        self._requests.put(None)


class SandboxWorker:
    """One warm worker process under bubblewrap (or, where bwrap is missing, a plain process)."""

    def __init__(self, slot: int, assignment_dir: Path, preload: list[str], jobs_root: Path,
                 use_bwrap: bool, log_dir: Path, launcher: _Launcher):
        self.slot = slot
        self.launcher = launcher
        self.assignment_dir = assignment_dir.resolve()
        self.preload = preload
        self.jobs_root = jobs_root
        self.use_bwrap = use_bwrap
        self.log_path = log_dir / f"worker-{slot}.log"
        self.process: subprocess.Popen | None = None
        self.private_work_root: Path | None = None
        self.uid_claim: isolation.StudentUid | None = None
        self.student_uid: int | None = None

    def start(self) -> None:
        if isolation.grader_is_root() and self.uid_claim is None:
            self.uid_claim = isolation.StudentUid.claim(isolation.STUDENT_UID_BASE + self.slot)
            self.student_uid = self.uid_claim.uid
        read_only = isolation.sandbox_read_only_paths()
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
               "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
               "PYTHONWARNINGS": "ignore::DeprecationWarning"}
        if self.use_bwrap:
            env["MPLCONFIGDIR"] = "/tmp/mpl"
            config = {"jobs_dir": JOBS_MOUNT, "assignment_dir": ASSIGNMENT_MOUNT, "work_root": WORK_ROOT_IN_SANDBOX,
                      "shared_memory_dir": isolation.SHARED_MEMORY_DIR}
            read_paths = [str(p) for p in read_only] + [ASSIGNMENT_MOUNT, "/proc", "/sys", "/bin", "/lib", "/lib64", "/sbin"]
        else:
            self.private_work_root = Path(tempfile.mkdtemp(prefix="tensorgrade-work-"))
            os.chmod(self.private_work_root, 0o755)
            env["MPLCONFIGDIR"] = str(self.private_work_root / "mpl")
            config = {"jobs_dir": str(self.jobs_root), "assignment_dir": str(self.assignment_dir),
                      "work_root": str(self.private_work_root / "work")}
            read_paths = [str(p) for p in read_only] + [str(self.assignment_dir), "/proc", "/sys", "/bin", "/lib", "/lib64"]
        config.update(student_uid=self.student_uid, read_paths=read_paths, preload=self.preload, threads=1)
        argv = [sys.executable, "-m", "tensorgrade.sandbox.inside.worker", json.dumps(config)]
        if self.use_bwrap:
            argv = isolation.sandbox_command(
                argv, read_only=[*read_only], binds={self.jobs_root: JOBS_MOUNT},
                tmp_size_mb=1024, env=env, root=isolation.grader_is_root())
            # the assignment's public folder, read-only, at a fixed place
            argv[argv.index("--clearenv"):argv.index("--clearenv")] = [
                "--ro-bind", str(self.assignment_dir), ASSIGNMENT_MOUNT]
            popen_env = None
        else:
            popen_env = env
        self.log = open(self.log_path, "ab")
        self.process = self.launcher.popen(args=argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=self.log, env=popen_env, start_new_session=True,
                                           text=True, bufsize=1)
        reply = self._read_reply(WORKER_START_TIMEOUT)
        if reply is not None and reply.get("op") == "preload_failed":
            self.close()
            raise GraderEnvironmentError(preload_failure_message(
                self.assignment_dir.name, str(reply.get("module")), str(reply.get("error"))))
        if reply is None or reply.get("op") != "ready":
            self.close()
            raise ExecutionError(f"grading worker {self.slot} did not start; see {self.log_path}: "
                                 + self._log_tail())

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def _read_reply(self, timeout: float) -> dict | None:
        assert self.process is not None and self.process.stdout is not None
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not result or not result[0]:
            return None
        return json.loads(result[0])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def run(self, job: Job) -> ExecutionRecord:
        if not self.alive():
            self.start()
        job_id = secrets.token_hex(8)
        job_dir = self.jobs_root / job_id
        job_dir.mkdir(mode=0o700)
        try:
            _write_job(job_dir, job)
            assert self.process is not None and self.process.stdin is not None
            self.process.stdin.write(json.dumps({"op": "run", "job": job_id}) + "\n")
            self.process.stdin.flush()
            reply = self._read_reply(job.settings.submission_timeout + 60)
            if reply is None or reply.get("job") != job_id:
                self.close()  # a worker that went silent is replaced, never reused
                raise ExecutionError(f"grading worker {self.slot} stopped responding ({reply!r}); see {self.log_path}: " + self._log_tail())
            if reply.get("op") == "failed":
                raise ExecutionError(f"grading worker failed on this job: {reply.get('error')}")
            return _read_record(job_dir, job)
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)

    def close(self) -> None:
        if self.process is not None:
            try:
                if self.process.poll() is None and self.process.stdin:
                    self.process.stdin.write(json.dumps({"op": "stop"}) + "\n")
                    self.process.stdin.flush()
                    self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                pass
            if self.process.poll() is None:
                os.killpg(self.process.pid, 9)
                self.process.wait()
            self.process = None
        if self.private_work_root is not None:
            shutil.rmtree(self.private_work_root, ignore_errors=True)
            self.private_work_root = None
        if getattr(self, "log", None):
            self.log.close()
        if self.uid_claim is not None:  # after the worker and its students are gone
            self.uid_claim.release()
            self.uid_claim = None


def _write_job(job_dir: Path, job: Job) -> None:
    settings = asdict(job.settings)
    settings["checks"] = len(job.probes)
    (job_dir / "job.json").write_text(json.dumps({
        "cells": [{"index": index, "source": source} for index, source in job.cells],
        "files": job.files,
        "settings": settings,
    }))
    (job_dir / "probes.json").write_text(transport.dumps({
        "sources": job.probe_sources,
        "calls": [asdict(probe) for probe in job.probes],
    }))


def _read_record(job_dir: Path, job: Job) -> ExecutionRecord:
    state_path = job_dir / "state.json"
    state = transport.loads(state_path.read_bytes()) if state_path.exists() else {}
    cells_state = state.get("cells", {}) if isinstance(state.get("cells"), dict) else {}
    cells = []
    for index, _ in job.cells:
        raw = cells_state.get(str(index))
        if isinstance(raw, dict):
            cells.append(CellRecord(index=index, status=str(raw.get("status")), error=raw.get("error"),
                                    seconds=float(raw.get("seconds") or 0.0), output=str(raw.get("output") or "")))
        else:
            cells.append(CellRecord(index=index, status="skipped",
                                    error=state.get("aborted") or "not run"))
    probes_state = state.get("probes", {}) if isinstance(state.get("probes"), dict) else {}
    probes = {}
    for request in job.probes:
        raw = probes_state.get(request.check)
        if isinstance(raw, dict):
            probes[request.check] = ProbeRecord(status=str(raw.get("status")), output=raw.get("output"),
                                                error=raw.get("error"), seconds=float(raw.get("seconds") or 0.0))
        else:
            aborted = state.get("aborted")
            probes[request.check] = ProbeRecord(
                status="timeout" if aborted and "time limit" in aborted else "missing",
                error=aborted or "the check did not run")
    return ExecutionRecord(
        cells=cells, probes=probes,
        integrity=[str(f) for f in state.get("integrity", [])],
        isolation={k: {"active": False, "detail": v} for k, v in state.get("confinement_problems", {}).items()},
        aborted=state.get("aborted"), seconds=float(state.get("seconds") or 0.0),
        output_dropped=int(state.get("output_dropped") or 0))


class WorkerPool:
    """`size` warm workers for one assignment; `run` is thread-safe and blocks for a free worker."""

    def __init__(self, assignment_dir: Path, preload: list[str], size: int = 1):
        self.report = isolation.detect_layers()
        self.jobs_root = Path(tempfile.mkdtemp(prefix="tensorgrade-jobs-"))  # 0700: grader only
        self.log_dir = self.jobs_root / "logs"
        self.log_dir.mkdir()
        use_bwrap = self.report.layers["namespaces"].active
        self.launcher = _Launcher()
        self.workers = [SandboxWorker(slot, assignment_dir, preload, self.jobs_root, use_bwrap, self.log_dir,
                                      self.launcher) for slot in range(size)]
        self.idle: queue.Queue[SandboxWorker] = queue.Queue()
        self._started = False
        self._start_error: ExecutionError | None = None  # workers that failed to start stay failed
        self._lock = threading.Lock()
        self.startup_seconds = 0.0

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            if self._start_error is not None:
                raise self._start_error
            started = time.perf_counter()
            errors: list[BaseException] = []

            def start_one(worker: SandboxWorker) -> None:
                try:
                    worker.start()
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=start_one, args=(w,)) for w in self.workers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                self.close()
                if isinstance(errors[0], ExecutionError):
                    self._start_error = errors[0]
                raise errors[0]
            for worker in self.workers:
                self.idle.put(worker)
            self._started = True
            self.startup_seconds = time.perf_counter() - started

    @property
    def start_error(self) -> ExecutionError | None:
        """Why the workers could not start (then every run raises it), or None."""
        return self._start_error

    def isolation_field(self, record: ExecutionRecord | None = None) -> dict[str, dict]:
        layers = self.report.to_json()
        if record is not None:
            for name, problem in record.isolation.items():
                layers[name] = {"active": False, "detail": f"could not be applied: {problem['detail']}"}
        return layers

    def run(self, job: Job) -> ExecutionRecord:
        self.start()
        worker = self.idle.get()
        try:
            try:
                return worker.run(job)
            except ExecutionError:
                worker.close()
                raise
        finally:
            self.idle.put(worker)

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        self.launcher.stop()
        shutil.rmtree(self.jobs_root, ignore_errors=True)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
