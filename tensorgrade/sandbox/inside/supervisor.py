"""The supervisor: one attempt at one submission, inside the sandbox.

Forked from the warm worker for each attempt, it prepares the submission's work folder, forks the
student's process (which confines itself and runs the kernel), watches it (`watch.Watch`) and
cleans up after it. It reads the probe payload only once the cells are done, so no student cell
ever has the probes' inputs in its process.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from tensorgrade.sandbox import protocol
from tensorgrade.sandbox import removal
from tensorgrade.sandbox.inside import confinement
from tensorgrade.sandbox.inside.records import JobState, Recorder

RESTART = 3  # the supervisor's exit code when the worker should start a new attempt


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
    private_tmp: bool = False  # /tmp is the sandbox's own tmpfs: its usage tells leftovers


class Supervisor:
    def __init__(self, config: WorkerConfig, job_dir: Path, deadline: float):
        self.config = config
        self.job_dir = job_dir
        self.deadline = deadline
        self.job = json.loads((job_dir / "job.json").read_text())
        self.settings = self.job["settings"]
        self.state = JobState.load(job_dir / "state.json")
        self.recorder = Recorder(self.state, self.settings)
        self.work_dir = Path(config.work_root) / job_dir.name
        self.done_at_start = set(self.state.probes)  # checks the kernel is told to skip this attempt

    def save(self) -> None:
        self.state.save(self.job_dir / "state.json")

    def wipe_shared_memory(self) -> None:
        """Nothing a submission leaves in /dev/shm (semaphores, shared tensors) reaches the next."""
        if self.config.shared_memory_dir:
            removal.empty_folder(Path(self.config.shared_memory_dir))

    def prepare_work_dir(self) -> None:
        self.wipe_shared_memory()
        removal.remove_tree(self.work_dir)
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
        from tensorgrade.sandbox.inside.watch import Watch

        self.state.attempts += 1
        confinement.become_subreaper()  # not inherited through fork
        try:
            self.prepare_work_dir()
        except Exception as exc:  # a file the grader could not copy (a full /tmp, a broken slot)
            self.state.grader_failure = (f"the grader could not prepare the submission's work folder: "
                                         f"{type(exc).__name__}: {exc}")
            self.save()
            return 0
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
            return Watch(self, pid, msg_r, cmd_w, out_r).run()
        finally:
            confinement.kill_student_processes(pid, self.config.student_uid)
            for fd in (msg_r, out_r):
                os.close(fd)
            try:
                os.close(cmd_w)
            except OSError:
                pass
            # Never raises: what it cannot remove, the worker's check before the next submission
            # finds, and that worker is retired (cleanroom.Slot).
            try:
                removal.remove_tree(self.work_dir)
                self.wipe_shared_memory()
            except Exception as exc:
                os.write(2, f"[grader] cleanup after the submission failed: {type(exc).__name__}: {exc}\n".encode())

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
            limits = confinement.Limits(**self.settings["limits"])
            problems = confinement.confine_student(confinement.StudentConfinement(
                uid=self.config.student_uid, limits=limits, work_dir=str(self.work_dir),
                read_paths=self.config.read_paths,
                extra_write_paths=(self.config.shared_memory_dir,) if self.config.shared_memory_dir else ()))
            sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
            sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
            from tensorgrade.sandbox.inside import kernel

            channel = kernel.Channel(msg_w, cmd_r)
            channel.send(protocol.Confined(problems=problems, unreadable=confinement.unreadable_runtime()))
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

    def cell_plan(self) -> list[int]:
        """The cells the kernel runs in this attempt, in order (as student_main is told)."""
        skip = set(self.state.skip) | {int(i) for i, cell in self.state.cells.items() if cell["status"] == "timeout"}
        return [cell["index"] for cell in self.job["cells"] if cell["index"] not in skip]

    def probe_stages(self) -> tuple[list[protocol.ProbeStage], dict[str, float]]:
        """The probe payload in stages: public checks, hidden checks, then an empty stage (done).

        Inputs stay as the JSON the grader wrote (arrays still encoded): the supervisor passes
        them on without decoding them."""
        payload = json.loads((self.job_dir / "probes.json").read_text())
        timeouts = {call["check"]: float(call["timeout"]) for call in payload["calls"]}
        stages = []
        for public in (True, False):
            calls = [protocol.ProbeCallSpec(**c) for c in payload["calls"] if (c.get("visibility") == "public") == public]
            if calls:
                modules = {c.module for c in calls}
                stages.append(protocol.ProbeStage(
                    sources={m: s for m, s in payload["sources"].items() if m in modules}, calls=calls))
        stages.append(protocol.ProbeStage())
        return stages, timeouts

    @staticmethod
    def send(cmd_w: int, message) -> None:
        # Plain json: the inputs are already in transport's encoding (see probe_stages).
        data = json.dumps(protocol.to_wire(message)).encode() + b"\n"

        def feed() -> None:  # a thread, so a student process that never reads cannot block the supervisor
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(cmd_w, view):]
            except OSError:
                pass

        threading.Thread(target=feed, daemon=True).start()
