"""The warm worker: runs inside the sandbox, one submission at a time, each in a fresh fork.

    grader --(job id on stdin)--> worker --fork--> supervisor --fork--> student process
                                  (warm: torch imported,   (root in the     (confined: own uid,
                                   first-use costs paid)    sandbox; times   rlimits, seccomp,
                                                            cells, records)  landlock; runs cells
                                                                             then probes)

The worker never reads a job's contents, so nothing of one submission (or of the reference, or
of the probes' inputs) is in the memory that later forks inherit.  If the student process dies or
ignores an interrupt, the supervisor records the cell or probe it was in, and the worker starts a
new supervisor that re-runs the notebook skipping that cell, so the other cells and every remaining
check still run.  Progress lives in the job folder's `state.json` (`records.JobState`).
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
from pathlib import Path

from tensorgrade.sandbox import protocol
from tensorgrade.sandbox.inside import cleanroom, confinement
from tensorgrade.sandbox.inside.records import JobState
from tensorgrade.sandbox.inside.supervisor import RESTART, Supervisor, WorkerConfig
# Supervisor.run imports it (the two import each other); imported here, before any fork, so that
# each submission's supervisor does not compile it again (no bytecode is written: 4 ms, 600 page faults)
from tensorgrade.sandbox.inside import watch  # noqa: F401
from tensorgrade.sandbox.inside.warmup import PreloadError, warm_up


def run_job(config: WorkerConfig, job_id: str) -> None:
    job_dir = Path(config.jobs_dir) / job_id
    job = json.loads((job_dir / "job.json").read_text())
    settings = job["settings"]
    started = time.monotonic()
    deadline = started + float(settings["submission_timeout"])
    max_attempts = 2 + len(job["cells"]) + settings.get("checks", 0)
    del job
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
        if state.finished or state.aborted or state.grader_failure:
            break
        if code != RESTART:  # the grader's own process failed: not the student's doing
            state.grader_failure = ("the grader's supervisor for this submission ended unexpectedly "
                                    f"({'killed' if code is None else 'exit ' + str(code)})")
            state.save(state_path)
            break
    else:
        state = JobState.load(state_path)
        state.aborted = state.aborted or "too many restarts"
        state.save(state_path)
    if code != 0:  # a supervisor that did not finish cleanly may have left student processes behind
        confinement.kill_student_processes(None, config.student_uid)
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
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints (warm-up, libraries) must not corrupt the protocol

    def reply(message) -> None:
        replies.write(json.dumps(protocol.to_wire(message)) + "\n")
        replies.flush()

    confinement.become_subreaper()
    confinement.make_undumpable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    Path(config.work_root).mkdir(parents=True, exist_ok=True, mode=0o755)
    try:
        warm_up(config.preload)
    except PreloadError as exc:  # the grader reports it as its own environment's problem
        reply(protocol.PreloadFailed(module=exc.module, error=exc.error))
        os._exit(1)
    confinement.prepare_landlock(config.read_paths)
    slot = cleanroom.Slot(work_root=Path(config.work_root),
                          shared_memory_dir=Path(config.shared_memory_dir) if config.shared_memory_dir else None,
                          student_uid=config.student_uid, tmp="/tmp" if config.private_tmp else None)
    slot.measure_baseline()
    verified = False
    reply(protocol.WorkerReady())
    for line in sys.stdin:
        request = protocol.decode(line, protocol.WORKER_REQUESTS)
        if isinstance(request, protocol.StopWorker):
            break
        # A clean room: the slot is verified pristine before the submission starts (after a job, the
        # check that ended it already did, and nothing runs here in between).
        dirty = [] if verified else slot.problems()
        if dirty:
            slot.scrub()
            dirty = slot.problems()
        if dirty:
            reply(protocol.JobFailed(job=request.job, retire=True,
                                     error="this grading worker's slot is not clean: " + "; ".join(dirty)))
            break
        try:
            run_job(config, request.job)
        except Exception as exc:  # the grader's failure, reported; the job runs again on a fresh worker
            reply(protocol.JobFailed(job=request.job, error=f"{type(exc).__name__}: {exc}", retire=True))
            break
        dirty = slot.scrub() + slot.problems()
        verified = not dirty
        reply(protocol.JobDone(job=request.job, retire="; ".join(dirty) or None))
        if dirty:
            break
    # Nothing to tear down (the sandbox's /tmp goes with it): skip the interpreter's finalisation of
    # torch and every loaded module, which takes about a second, and keeps the grader waiting.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
