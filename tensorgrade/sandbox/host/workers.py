"""Grader side of execution: warm sandboxed workers, and one job in -> one ExecutionRecord out.

A `WorkerPool` holds one warm worker per slot, each a process under bubblewrap (`bwrap.py`) that
runs `sandbox/inside/worker.py`; the grader writes a job into the job folder, names it on the
worker's stdin and reads the record once the worker replies (`protocol.WorkerReply`).
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
from pathlib import Path

from tensorgrade.sandbox import protocol, removal
from tensorgrade.sandbox.host import bwrap, layers, uids
from tensorgrade.sandbox.host.jobs import ExecutionRecord, Job, read_record, write_job
from tensorgrade.sandbox.host.preload import preload_failure_message

WORKER_START_TIMEOUT = 180.0
JOBS_MOUNT = "/jobs"
ASSIGNMENT_MOUNT = "/assignment"
WORK_ROOT_IN_SANDBOX = "/tmp/work"


class ExecutionError(RuntimeError):
    """The grader could not run a job (a worker failed to start or died): not the student's fault."""


class GraderEnvironmentError(ExecutionError):
    """This grading machine lacks something the assignment needs (a module it preloads): the
    grader's installation is to fix, and every submission of the assignment waits for it."""


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
        self.uid_claim: uids.StudentUid | None = None
        self.student_uid: int | None = None
        self.retired: list[str] = []  # why this slot's workers were replaced after a submission

    def start(self) -> None:
        if uids.grader_is_root() and self.uid_claim is None:
            self.uid_claim = uids.StudentUid.claim(uids.STUDENT_UID_BASE + self.slot)
            self.student_uid = self.uid_claim.uid
        read_only = bwrap.sandbox_read_only_paths()
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
               "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
               "PYTHONWARNINGS": "ignore::DeprecationWarning"}
        if self.use_bwrap:
            env["MPLCONFIGDIR"] = "/tmp/mpl"
            config = {"jobs_dir": JOBS_MOUNT, "assignment_dir": ASSIGNMENT_MOUNT, "work_root": WORK_ROOT_IN_SANDBOX,
                      "shared_memory_dir": bwrap.SHARED_MEMORY_DIR, "private_tmp": True}
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
            argv = bwrap.sandbox_command(
                argv, read_only=[*read_only], binds={self.jobs_root: JOBS_MOUNT},
                tmp_size_mb=1024, env=env, root=uids.grader_is_root())
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
        if isinstance(reply, protocol.PreloadFailed):
            self.close()
            raise GraderEnvironmentError(preload_failure_message(self.assignment_dir.name, reply.module, reply.error))
        if not isinstance(reply, protocol.WorkerReady):
            self.close()
            raise ExecutionError(f"grading worker {self.slot} did not start; see {self.log_path}: "
                                 + self._log_tail())

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def _read_reply(self, timeout: float) -> protocol.WorkerReply | None:
        """The worker's next reply; None when it said nothing in time or something else than a reply."""
        assert self.process is not None and self.process.stdout is not None
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not result or not result[0]:
            return None
        try:
            return protocol.decode(result[0], protocol.WORKER_REPLIES)
        except protocol.ProtocolViolation:
            return None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def run(self, job: Job) -> ExecutionRecord:
        if not self.alive():
            self.start()
        job_id = secrets.token_hex(8)
        job_dir = self.jobs_root / job_id
        job_dir.mkdir(mode=0o700)
        try:
            write_job(job_dir, job)
            assert self.process is not None and self.process.stdin is not None
            self.process.stdin.write(json.dumps(protocol.to_wire(protocol.RunJob(job=job_id))) + "\n")
            self.process.stdin.flush()
            reply = self._read_reply(job.settings.submission_timeout + 60)
            if not isinstance(reply, (protocol.JobDone, protocol.JobFailed)) or reply.job != job_id:
                self.close()  # a worker that went silent is replaced, never reused
                raise ExecutionError(f"grading worker {self.slot} stopped responding ({reply!r}); see {self.log_path}: " + self._log_tail())
            if isinstance(reply, protocol.JobFailed):
                self.close()  # its slot may be in any state: a fresh worker takes the next job
                raise ExecutionError(f"grading worker failed on this job: {reply.error}")
            record = read_record(job_dir, job)
            if reply.retire:  # the record stands; what the submission left cannot reach the next one
                self.retired.append(reply.retire)
                self.close()
            return record
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)

    def close(self) -> None:
        if self.process is not None:
            try:
                if self.process.poll() is None and self.process.stdin:
                    self.process.stdin.write(json.dumps(protocol.to_wire(protocol.StopWorker())) + "\n")
                    self.process.stdin.flush()
                    self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                pass
            if self.process.poll() is None:
                os.killpg(self.process.pid, 9)
                self.process.wait()
            self.process = None
        if self.private_work_root is not None:
            try:
                removal.remove_tree(self.private_work_root)
            except OSError:
                pass  # a temporary folder of the grader's; the next worker gets a new one
            self.private_work_root = None
        if getattr(self, "log", None):
            self.log.close()
        if self.uid_claim is not None:  # after the worker and its students are gone
            self.uid_claim.release()
            self.uid_claim = None


class WorkerPool:
    """`size` warm workers for one assignment; `run` is thread-safe and blocks for a free worker."""

    def __init__(self, assignment_dir: Path, preload: list[str], size: int = 1):
        self.report = layers.detect_layers()
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
        self.failures = 0  # jobs whose worker failed on the grader's side (each replaced by a fresh one)

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
    def restarts(self) -> int:
        """Workers replaced: after a failure of the grader's side, or a slot that was not left clean."""
        return self.failures + sum(len(worker.retired) for worker in self.workers)

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
        """The job's record. A failure of the grader's side (a worker that died or went silent, a
        slot that is not clean, a supervisor that failed, a sandbox in which Python cannot run) is
        never the student's: the job runs once more on a fresh worker, then ExecutionError."""
        self.start()
        for attempt in (1, 2):
            worker = self.idle.get()
            try:
                try:
                    record = worker.run(job)
                except GraderEnvironmentError:
                    raise
                except ExecutionError:
                    worker.close()
                    self.failures += 1
                    if attempt == 2:
                        raise
                    continue
                if record.grader_failure is None:
                    return record
                if worker.alive():  # one retired for its slot already is counted in worker.retired
                    worker.close()
                    self.failures += 1
                if attempt == 2:
                    raise ExecutionError(record.grader_failure)
            finally:
                self.idle.put(worker)
        raise AssertionError("unreachable")

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        self.launcher.stop()
        shutil.rmtree(self.jobs_root, ignore_errors=True)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
