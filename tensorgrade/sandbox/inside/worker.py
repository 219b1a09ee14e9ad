"""The warm worker: runs inside the sandbox, one submission at a time, each in a fresh fork.

    grader --(job id on stdin)--> worker --fork--> supervisor --fork--> student process
                                  (warm: torch imported,   (root in the     (confined: own uid,
                                   first-use costs paid)    sandbox; times   rlimits, seccomp,
                                                            cells, records)  landlock; runs cells
                                                                             then probes)

The worker never reads a job's contents, so nothing of one submission (or of the reference, or
of the probes' inputs) is in the memory that later forks inherit.  The supervisor reads the cells,
forks the student process, and reads the probe payload only once the cells are done.  If the
student process dies or ignores an interrupt, the supervisor records the cell or probe it was in,
and the worker starts a new supervisor that re-runs the notebook skipping that cell, so the other
cells and every remaining check still run.  Progress lives in the job folder's `state.json`.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tensorgrade.sandbox.host import layers as isolation
from tensorgrade.sandbox import transport

RESTART = 3
INTERRUPT_GRACE_SECONDS = 3.0
MAX_OUTPUT_PER_CELL = 20_000
MAX_OUTPUT_PER_JOB = 1_000_000
MAX_FINDINGS = 100


@dataclass
class WorkerConfig:
    jobs_dir: str
    assignment_dir: str
    work_root: str
    student_uid: int | None
    read_paths: list[str]
    preload: list[str]
    threads: int = 1
    shared_memory_dir: str | None = None  # the sandbox's private /dev/shm, wiped around each submission


@dataclass
class JobState:
    cells: dict[str, dict] = field(default_factory=dict)  # str(index) -> record
    probes: dict[str, dict] = field(default_factory=dict)  # check id -> record
    skip: list[int] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)
    confinement_problems: dict[str, str] = field(default_factory=dict)
    output_dropped: int = 0
    attempts: int = 0
    finished: bool = False
    aborted: str | None = None
    seconds: float = 0.0
    # Set when hidden checks' code and inputs are sent: from then on nothing the student may see
    # (cell records, public checks) is recorded, so nothing hidden can travel out through it.
    hidden_released: bool = False

    @classmethod
    def load(cls, path: Path) -> "JobState":
        if not path.exists():
            return cls()
        return cls(**transport.loads(path.read_text()))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(transport.dumps(asdict(self)))
        os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# Warm-up: pay import and lazy first-use costs once, before any student code
# ---------------------------------------------------------------------------------------------

class PreloadFailed(Exception):
    """A module the assignment preloads cannot be imported here: the grading machine lacks it."""

    def __init__(self, module: str, error: str):
        super().__init__(f"{module}: {error}")
        self.module = module
        self.error = error


def warm_up(preload: list[str]) -> None:
    import importlib

    # torch first: its thread settings must come before any op, whatever the other modules do.
    for name in sorted(preload, key=lambda module: module != "torch"):
        try:
            importlib.import_module(name)
        except Exception as exc:  # ImportError, or a library that fails while loading
            raise PreloadFailed(name, f"{type(exc).__name__}: {exc}") from exc
        if name == "torch":
            import torch

            # Before any op: a child forked after a multi-threaded op would hang on the thread pool.
            torch.set_num_threads(1)
            torch.set_num_interop_threads(1)
        elif name.split(".")[0] == "tensorflow":
            _configure_tensorflow()
    if "torch" in sys.modules:
        _warm_torch()
    if "matplotlib" in sys.modules or "matplotlib.pyplot" in preload:
        import io

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = plt.figure()
        plt.plot([0, 1], [0, 1])
        fig.savefig(io.BytesIO(), format="png")  # builds the font cache once
        plt.close(fig)
    from tensorgrade.sandbox.inside import kernel

    kernel.make_shell()
    # The confinement libraries, so each forked submission does not import them again.
    import landlock  # noqa: F401
    import pyseccomp  # noqa: F401


def _configure_tensorflow() -> None:
    """One thread per pool, set before TensorFlow's runtime exists; and no op here at all: the
    runtime (its thread pools) is created in each forked submission on its first op (about 0.1 s),
    because a runtime created before fork() is not safe to use in the child."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _warm_torch() -> None:
    import torch
    import torch.utils.data

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    data = torch.utils.data.TensorDataset(torch.randn(8, 4), torch.randint(0, 2, (8,)))
    loader = torch.utils.data.DataLoader(data, batch_size=4, shuffle=True)
    for optimizer_class in (torch.optim.SGD, torch.optim.Adam):
        optimizer = optimizer_class(model.parameters(), lr=0.01)
        for images, labels in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        model.eval()(torch.randn(2, 4)).argmax(dim=1)
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda t: (t ** 3).sum(), (x,))
    torch.testing.assert_close(torch.ones(2), torch.ones(2))


# ---------------------------------------------------------------------------------------------
# Supervisor: one attempt at one job
# ---------------------------------------------------------------------------------------------

class Supervisor:
    def __init__(self, config: WorkerConfig, job_dir: Path, deadline: float):
        self.config = config
        self.job_dir = job_dir
        self.deadline = deadline
        self.job = json.loads((job_dir / "job.json").read_text())
        self.settings = self.job["settings"]
        self.state = JobState.load(job_dir / "state.json")
        self.work_dir = Path(config.work_root) / job_dir.name
        self.output_total = 0
        self.done_at_start = set(self.state.probes)  # checks the kernel is told to skip this attempt

    def save(self) -> None:
        self.state.save(self.job_dir / "state.json")

    def wipe_shared_memory(self) -> None:
        """Nothing a submission leaves in /dev/shm (semaphores, shared tensors) reaches the next."""
        if self.config.shared_memory_dir:
            for entry in Path(self.config.shared_memory_dir).iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def prepare_work_dir(self) -> None:
        self.wipe_shared_memory()
        if self.work_dir.exists():
            shutil.rmtree(self.work_dir)
        self.work_dir.mkdir(parents=True, mode=0o700)
        for relative in self.job.get("files", []):
            source = Path(self.config.assignment_dir) / relative
            target = self.work_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)
        (self.work_dir / ".tmp").mkdir()
        uid = self.config.student_uid
        if uid is not None:
            for path in [self.work_dir, *self.work_dir.rglob("*")]:
                os.lchown(path, uid, uid)

    def run(self) -> int:
        self.state.attempts += 1
        isolation.become_subreaper()  # not inherited through fork
        self.prepare_work_dir()
        msg_r, msg_w = os.pipe()
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(msg_r)
            os.close(cmd_w)
            os.close(out_r)
            self._become_student(msg_w, cmd_r, out_w)
        os.close(msg_w)
        os.close(cmd_r)
        os.close(out_w)
        try:
            return self._watch(pid, msg_r, cmd_w, out_r)
        finally:
            isolation.kill_student_processes(pid, self.config.student_uid)
            for fd in (msg_r, out_r):
                os.close(fd)
            try:
                os.close(cmd_w)
            except OSError:
                pass
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.wipe_shared_memory()

    def _become_student(self, msg_w: int, cmd_r: int, out_w: int) -> None:
        try:
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            keep = {0, 1, 2, msg_w, cmd_r}
            for fd in range(3, 1024):
                if fd not in keep:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            os.chdir(self.work_dir)
            os.environ.update(HOME=str(self.work_dir), TMPDIR=str(self.work_dir / ".tmp"),
                              PWD=str(self.work_dir))
            import tempfile

            tempfile.tempdir = None  # chosen again from TMPDIR: the worker's choice was made before fork
            limits = isolation.Limits(**self.settings["limits"])
            problems = isolation.confine_student(isolation.StudentConfinement(
                uid=self.config.student_uid, limits=limits, work_dir=str(self.work_dir),
                read_paths=self.config.read_paths,
                extra_write_paths=(self.config.shared_memory_dir,) if self.config.shared_memory_dir else ()))
            sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
            sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
            from tensorgrade.sandbox.inside import kernel

            channel = kernel.Channel(msg_w, cmd_r)
            channel.send({"op": "confined", "problems": problems})
            # On a restart, cells that already used up their time limit are not paid for twice.
            timed_out = {int(i) for i, cell in self.state.cells.items() if cell["status"] == "timeout"}
            kernel.student_main(channel, self.job["cells"], set(self.state.skip) | timed_out,
                                set(self.state.probes), self.settings.get("threads", 1))
        except BaseException as exc:  # never fall back into the supervisor's code
            try:
                os.write(2, f"[grader] student process failed to start: {exc!r}\n".encode())
            finally:
                os._exit(70)
        os._exit(0)

    # -- the watch loop ----------------------------------------------------------------------

    def _watch(self, pid: int, msg_r: int, cmd_w: int, out_r: int) -> int:
        current: tuple[str, object] | None = None  # ("cell", index) or ("probe", check id)
        current_deadline = float("inf")
        interrupted_at: float | None = None
        progress = False
        buffer = b""
        output = bytearray()
        open_fds = {msg_r, out_r}
        probe_timeouts: dict[str, float] = {}
        # Watch the process itself too: children it forked may hold the pipes open long after it ends.
        pidfd = os.pidfd_open(pid)
        exited = False
        # The kernel's messages follow one order; anything else was written by student code into the
        # pipe (forged results, a request for the probes' inputs in the middle of a cell).
        plan = self._cell_plan()
        next_cell = 0
        confined = False
        stages: list[dict] | None = None
        stage_calls: list[str] = []  # the current stage's checks the kernel has still to start
        stages_left = 0
        tampered: dict[str, str] = {}  # check -> what the audit hook reported while it ran
        violation: str | None = None
        while open_fds and not self.state.finished and violation is None:
            now = time.monotonic()
            if now > self.deadline:
                self._record_hard_stop(current, "timeout", "the submission's total time limit was reached")
                self.state.aborted = f"submission time limit of {self.settings['submission_timeout']} s reached"
                self.save()
                return 0
            if current is not None and now > current_deadline:
                if interrupted_at is None:
                    os.kill(pid, signal.SIGINT)  # KeyboardInterrupt, as Jupyter's interrupt
                    interrupted_at = now
                    current_deadline = now + INTERRUPT_GRACE_SECONDS
                else:
                    self._record_hard_stop(current, "timeout", self._timeout_message(current, probe_timeouts, hard=True))
                    self.save()
                    return RESTART
            if exited:  # drain what it wrote before exiting, without waiting on inherited pipe ends
                ready = select.select(list(open_fds), [], [], 0)[0]
                if not ready:
                    break
            else:
                wait = max(0.0, min(current_deadline, self.deadline) - now)
                ready, _, _ = select.select([*open_fds, pidfd], [], [], min(wait, 1.0))
                if pidfd in ready:
                    exited = True
                    continue
            if out_r in ready:
                chunk = os.read(out_r, 65536)
                if not chunk:
                    open_fds.discard(out_r)
                else:
                    self._capture_output(chunk, output)
            if msg_r not in ready:
                continue
            chunk = os.read(msg_r, 1 << 20)
            if not chunk:
                open_fds.discard(msg_r)
                continue
            buffer += chunk
            if len(buffer) > transport.MAX_MESSAGE_BYTES:
                violation = "a message over the size cap"
                break
            lines = buffer.split(b"\n")
            buffer = lines.pop()
            for line in lines:
                from tensorgrade.sandbox.inside.kernel import decode_line

                message = decode_line(line)
                if message is None:
                    violation = "a line that is not a message"
                    break
                op = message["op"]
                if op == "tamper":
                    what = str(message.get("what"))[:300]
                    if message.get("grader") is True:
                        violation = f"the grader's own code was changed: {what}"
                        break
                    if current is not None and current[0] == "probe":
                        tampered.setdefault(str(current[1]), what)
                        self._record_findings([f"while check {current[1]} ran, the notebook's code {what}"])
                    else:
                        self._record_findings([f"the notebook's code {what}"])
                    continue
                violation = self._out_of_order(message, confined, current, plan, next_cell, stages, stage_calls,
                                               stages_left)
                if violation:
                    break
                if op == "confined":
                    confined = True
                    problems = message.get("problems")
                    if isinstance(problems, dict):
                        self.state.confinement_problems = {str(k): str(v)[:300] for k, v in problems.items()}
                elif op == "cell_start":
                    # Output and messages come on two pipes, so their order is only known at these
                    # handshakes: what is in the output pipe now was written before the cell; the
                    # kernel runs the cell only once it has this "go".
                    if out_r in open_fds and not self._drain(out_r, bytearray()):
                        open_fds.discard(out_r)
                    output.clear()
                    current = ("cell", message["index"])
                    current_deadline = time.monotonic() + float(self.settings["cell_timeout"])
                    interrupted_at = None
                    next_cell += 1
                    os.write(cmd_w, b'{"op": "go"}\n')
                elif op == "cell_end" and current == ("cell", message.get("index")):
                    # The kernel flushed stdout and stderr before cell_end: the cell's output is all in
                    # the pipe already.
                    if out_r in open_fds and not self._drain(out_r, output):
                        open_fds.discard(out_r)
                    self._record_cell(message, output, interrupted_at is not None)
                    output.clear()
                    self._record_findings(message.get("findings"))
                    current, current_deadline, interrupted_at = None, float("inf"), None
                    progress = True
                elif op == "integrity":
                    self._record_findings(message.get("findings"))
                elif op == "want_probes":
                    if stages is None:
                        stages, probe_timeouts = self._probe_stages()
                        stages_left = len(stages)
                    stage = stages[len(stages) - stages_left]
                    stages_left -= 1
                    stage_calls = [c["check"] for c in stage["calls"] if c["check"] not in self.done_at_start]
                    if any(c.get("visibility") != "public" for c in stage["calls"]):
                        self.state.hidden_released = True
                        self.save()
                    self._send(cmd_w, stage)
                elif op == "probe_start":
                    current = ("probe", stage_calls.pop(0))
                    current_deadline = time.monotonic() + probe_timeouts[current[1]]
                    interrupted_at = None
                elif op == "probe_end":
                    if current[1] in tampered:
                        message = {"check": current[1], "status": "untrusted", "seconds": message.get("seconds"),
                                   "error": f"while this check ran, your code {tampered[current[1]]}: the "
                                            "grader's observations cannot be trusted, so the check fails"}
                    self._record_probe(message, interrupted_at is not None, probe_timeouts)
                    current, current_deadline, interrupted_at = None, float("inf"), None
                    progress = True
                elif op == "finished":
                    self.state.finished = True
        os.close(pidfd)
        if violation is not None:
            # Whatever it reported may be forged: no check of this run is graded, and the TA sees why.
            self.state.aborted = (f"the submission wrote into the grader's message channel ({violation}); nothing "
                                  "it reported can be trusted, so its checks were not graded")
            self.state.probes = {}
            self._record_findings([f"tampering: {violation}"])
            self.save()
            return 0
        if self.state.finished:
            self.save()
            return 0
        status = self._wait_exit(pid)
        if self.state.finished:
            self.save()
            return 0
        reason = f"the notebook's process {status}"
        if current is not None:
            self._record_hard_stop(current, "crashed" if current[0] == "probe" else "error",
                                   reason + (" while this check ran" if current[0] == "probe" else ""))
            self.save()
            return RESTART
        if not progress:
            # Died between cells and checks (a background thread, a signal): nothing left to retry.
            tail = "" if self.state.hidden_released else output.decode("utf-8", "replace").strip()[-1500:]
            self.state.aborted = f"{reason} outside any cell or check" + (f": {tail}" if tail else "")
            self.save()
            return 0
        self.save()
        return RESTART

    def _wait_exit(self, pid: int) -> str:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                if os.WIFSIGNALED(status):
                    sig = os.WTERMSIG(status)
                    hint = " (the memory limit or a crash)" if sig in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT) else ""
                    if sig == signal.SIGXCPU:
                        hint = " (the CPU-time limit)"
                    return f"was killed by signal {signal.Signals(sig).name}{hint}"
                return f"exited with code {os.WEXITSTATUS(status)} (os._exit / sys.exit / a crash)"
            time.sleep(0.01)
        return "stopped responding"

    def _drain(self, out_r: int, output: bytearray) -> bool:
        """Reads what is waiting in the output pipe without blocking; False once it is closed.

        Bounded: a process left behind that writes without end must not hold the supervisor here
        (what was written before the handshake is at most a pipe's capacity)."""
        for _ in range(64):
            if not select.select([out_r], [], [], 0)[0]:
                break
            chunk = os.read(out_r, 65536)
            if not chunk:
                return False
            self._capture_output(chunk, output)
        return True

    def _capture_output(self, chunk: bytes, output: bytearray) -> None:
        room = min(MAX_OUTPUT_PER_CELL - len(output), MAX_OUTPUT_PER_JOB - self.output_total)
        if room > 0:
            output.extend(chunk[:room])
            self.output_total += min(room, len(chunk))
        self.state.output_dropped += max(0, len(chunk) - max(room, 0))

    def _record_cell(self, message: dict, output: bytearray, interrupted: bool) -> None:
        key = str(message["index"])
        if key in self.state.cells or self.state.hidden_released:
            return  # a re-run after a restart: the first run's record stands
        status = "timeout" if interrupted else ("ok" if message.get("status") == "ok" else "error")
        error = message.get("error") if status == "error" else None
        if interrupted:
            error = f"cell interrupted after the {self.settings['cell_timeout']} s cell time limit"
        self.state.cells[key] = {
            "status": status, "error": str(error)[:5000] if error else None,
            "seconds": float(message.get("seconds", 0.0)) if isinstance(message.get("seconds"), (int, float)) else 0.0,
            "output": output.decode("utf-8", "replace"),
        }

    def _record_findings(self, findings) -> None:
        if isinstance(findings, list):
            merged = set(self.state.integrity) | {str(f)[:500] for f in findings}
            self.state.integrity = sorted(merged)[:MAX_FINDINGS]

    def _record_probe(self, message: dict, interrupted: bool, timeouts: dict[str, float]) -> None:
        check = message["check"]
        status = message.get("status")
        if interrupted or status == "interrupted":
            record = {"status": "timeout", "error": self._timeout_message(("probe", check), timeouts)}
        elif status == "ok":
            record = {"status": "ok", "output": message.get("output")}
        elif status == "untrusted":
            record = {"status": "untrusted", "error": str(message.get("error"))[:2000]}
        elif status == "not_defined":
            record = {"status": "not_defined", "error": str(message.get("error"))[:2000]}
        else:
            record = {"status": "error", "error": str(message.get("error"))[:5000]}
        seconds = message.get("seconds")
        record["seconds"] = float(seconds) if isinstance(seconds, (int, float)) else 0.0
        self.state.probes[check] = record

    def _timeout_message(self, current, timeouts: dict[str, float], hard: bool = False) -> str:
        kind, what = current
        limit = self.settings["cell_timeout"] if kind == "cell" else timeouts.get(what, "?")
        how = " and did not stop when interrupted" if hard else ""
        return f"{'cell' if kind == 'cell' else 'check'} ran past its {limit} s time limit{how}"

    def _record_hard_stop(self, current, status: str, reason: str) -> None:
        if current is None:
            return
        kind, what = current
        if kind == "cell":
            if str(what) not in self.state.cells:
                self.state.cells[str(what)] = {"status": status, "error": reason, "seconds": 0.0, "output": ""}
            if what not in self.state.skip:
                self.state.skip.append(what)
        elif what not in self.state.probes:
            self.state.probes[what] = {"status": status, "error": reason, "seconds": 0.0}

    def _cell_plan(self) -> list[int]:
        """The cells the kernel runs in this attempt, in order (as student_main is told)."""
        skip = set(self.state.skip) | {int(i) for i, cell in self.state.cells.items() if cell["status"] == "timeout"}
        return [cell["index"] for cell in self.job["cells"] if cell["index"] not in skip]

    def _out_of_order(self, message: dict, confined: bool, current, plan: list[int], next_cell: int,
                      stages: list | None, stage_calls: list[str], stages_left: int) -> str | None:
        """Why `message` cannot come from the kernel at this point, or None when it can."""
        op = message["op"]
        cells_done = next_cell == len(plan) and current is None
        if not confined:
            return None if op == "confined" else f"a {op!r} message before the sandbox was set up"
        if op == "cell_start":
            if current is None and next_cell < len(plan) and message.get("index") == plan[next_cell]:
                return None
        elif op == "cell_end":
            if current == ("cell", message.get("index")):
                return None
        elif op == "want_probes":
            if cells_done and (stages is None or (stages_left > 0 and not stage_calls)):
                return None
        elif op == "integrity":
            if cells_done and stages is not None:
                return None
        elif op == "probe_start":
            if cells_done and stage_calls and message.get("check") == stage_calls[0]:
                return None
        elif op == "probe_end":
            if current is not None and current == ("probe", message.get("check")):
                return None
        elif op == "finished":
            if cells_done and stages is not None and stages_left == 0 and not stage_calls:
                return None
        where = f"during {current[0]} {current[1]}" if current else "between cells and checks"
        return f"an unexpected {op!r} message {where}"

    def _probe_stages(self) -> tuple[list[dict], dict[str, float]]:
        """The probe payload in stages: public checks, hidden checks, then an empty stage (done)."""
        payload = json.loads((self.job_dir / "probes.json").read_text())
        timeouts = {call["check"]: float(call["timeout"]) for call in payload["calls"]}
        stages = []
        for public in (True, False):
            calls = [c for c in payload["calls"] if (c.get("visibility") == "public") == public]
            if calls:
                modules = {c["module"] for c in calls}
                stages.append({"sources": {m: s for m, s in payload["sources"].items() if m in modules},
                               "calls": calls})
        stages.append({"sources": {}, "calls": []})
        return stages, timeouts

    def _send(self, cmd_w: int, payload: dict) -> None:
        data = json.dumps(payload).encode() + b"\n"
        # A thread, so a student process that never reads cannot block the supervisor.
        import threading

        def feed() -> None:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(cmd_w, view):]
            except OSError:
                pass

        threading.Thread(target=feed, daemon=True).start()


# ---------------------------------------------------------------------------------------------
# The worker loop
# ---------------------------------------------------------------------------------------------

def run_job(config: WorkerConfig, job_id: str) -> None:
    job_dir = Path(config.jobs_dir) / job_id
    settings = json.loads((job_dir / "job.json").read_text())["settings"]
    started = time.monotonic()
    deadline = started + float(settings["submission_timeout"])
    max_attempts = 2 + len(json.loads((job_dir / "job.json").read_text())["cells"]) + settings.get("checks", 0)
    state_path = job_dir / "state.json"
    JobState().save(state_path)
    for _ in range(max_attempts):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = Supervisor(config, job_dir, deadline).run()
            finally:
                os._exit(code)
        code = _wait_supervisor(pid, deadline + 10)
        state = JobState.load(state_path)
        if state.finished or state.aborted:
            break
        if code != RESTART:
            state.aborted = ("the grader's supervisor for this submission ended unexpectedly "
                             f"({'killed' if code is None else 'exit ' + str(code)})")
            state.save(state_path)
            break
    else:
        state = JobState.load(state_path)
        state.aborted = state.aborted or "too many restarts"
        state.save(state_path)
    if code != 0:  # a supervisor that did not finish cleanly may have left student processes behind
        isolation.kill_student_processes(None, config.student_uid)
    state = JobState.load(state_path)
    state.seconds = time.monotonic() - started
    state.save(state_path)


def _wait_supervisor(pid: int, deadline: float) -> int | None:
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            ready, _, _ = select.select([pidfd], [], [], remaining)
            if ready:
                _, status = os.waitpid(pid, 0)
                return os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    finally:
        os.close(pidfd)


def main() -> None:
    config = WorkerConfig(**json.loads(sys.argv[1]))
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints (warm-up, libraries) must not corrupt the protocol
    isolation.become_subreaper()
    isolation.make_undumpable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    Path(config.work_root).mkdir(parents=True, exist_ok=True, mode=0o755)
    try:
        warm_up(config.preload)
    except PreloadFailed as exc:  # the grader reports it as its own environment's problem
        protocol.write(json.dumps({"op": "preload_failed", "module": exc.module, "error": exc.error}) + "\n")
        protocol.flush()
        os._exit(1)
    isolation.prepare_landlock(config.read_paths)
    protocol.write(json.dumps({"op": "ready"}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("op") == "stop":
            break
        try:
            run_job(config, request["job"])
            protocol.write(json.dumps({"op": "done", "job": request["job"]}) + "\n")
        except Exception as exc:  # report and keep serving: one job never takes the worker down
            protocol.write(json.dumps({"op": "failed", "job": request["job"], "error": repr(exc)}) + "\n")
    # Nothing to tear down (the sandbox's /tmp goes with it): skip the interpreter's finalisation of
    # torch and every loaded module, which takes about a second, and keeps the grader waiting.
    protocol.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
