"""Student uids: each worker's student processes run as a uid of their own, claimed host-wide."""

from __future__ import annotations

import os
from pathlib import Path

STUDENT_UID_BASE = 64000  # student processes run as a uid from 64000 on when the grader is root
STUDENT_UID_COUNT = 1000


class StudentUid:
    """A student uid held by one worker, host-wide: graders running side by side (two TAs, a test
    run beside a batch) never share one, since killing by uid and the process-count limit are per
    uid. The claim is an flock on a root-only lock file, released when the worker closes or the
    grader dies."""

    def __init__(self, uid: int, handle):
        self.uid = uid
        self._handle = handle

    @classmethod
    def claim(cls, preferred: int) -> "StudentUid":
        import fcntl

        base = Path("/run/lock") if os.access("/run/lock", os.W_OK) else Path("/tmp")
        folder = base / "tensorgrade-student-uids"
        folder.mkdir(mode=0o700, exist_ok=True)
        candidates = [preferred, *range(STUDENT_UID_BASE, STUDENT_UID_BASE + STUDENT_UID_COUNT)]
        for uid in candidates:
            handle = open(folder / f"{uid}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            return cls(uid, handle)
        raise RuntimeError(f"all {STUDENT_UID_COUNT} student uids from {STUDENT_UID_BASE} are held by running graders")

    def release(self) -> None:
        if not self._handle.closed:
            self._handle.close()


def grader_is_root() -> bool:
    """Only a root grader can run student code as another uid."""
    return os.geteuid() == 0
