"""A clean room per submission: the worker's slot is emptied after each submission and verified
pristine before the next one starts.

What one submission leaves behind must never reach the next: files in the work folder, the
sandbox's private /tmp or /dev/shm, processes of the student's uid. Cleanup cannot fail on depth
or size (GNU `rm -rf` walks a tree of any depth without recursion; `shutil.rmtree` raised
RecursionError on a few thousand levels), and whatever it leaves is found by `slot_problems`, after
which the worker is retired and a fresh one (a fresh sandbox, fresh tmpfs) takes its place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tensorgrade.sandbox.inside import confinement
from tensorgrade.sandbox.removal import empty_folder

# What the worker itself may have written to /tmp since warm-up (matplotlib's cache, job records)
# before a slot counts as not clean.
SLACK_BYTES = 8 * 1024 * 1024
SLACK_INODES = 256


@dataclass(frozen=True)
class TmpUsage:
    """Bytes and inodes in use on a file system (the sandbox's private /tmp)."""
    bytes: int
    inodes: int

    @classmethod
    def of(cls, folder: str) -> "TmpUsage":
        stat = os.statvfs(folder)
        return cls((stat.f_blocks - stat.f_bfree) * stat.f_frsize, stat.f_files - stat.f_ffree)


@dataclass
class Slot:
    """What one worker's submissions may leave things in."""
    work_root: Path
    shared_memory_dir: Path | None
    student_uid: int | None
    tmp: str | None = None  # a private /tmp (bubblewrap's tmpfs) whose usage is watched
    tmp_baseline: TmpUsage | None = None

    def measure_baseline(self) -> None:
        if self.tmp is not None:
            self.tmp_baseline = TmpUsage.of(self.tmp)

    def scrub(self) -> list[str]:
        """Empty every place a submission can write; the problems met (cleanup never raises)."""
        problems = []
        if self.student_uid is not None and self._student_processes():
            confinement.kill_student_processes(None, self.student_uid)
        for folder in (self.work_root, self.shared_memory_dir):
            if folder is None:
                continue
            try:
                empty_folder(folder)
            except Exception as exc:  # any exception: the check below retires the worker
                problems.append(f"could not empty {folder}: {type(exc).__name__}: {exc}")
        return problems

    def _student_processes(self) -> list[int]:
        return [pid for pid, _, uid in confinement.live_processes() if uid == self.student_uid]

    def problems(self) -> list[str]:
        """Why this slot is not pristine; empty when the next submission may start here."""
        found = []
        for folder in (self.work_root, self.shared_memory_dir):
            if folder is None:
                continue
            try:
                left = [entry.name for entry in os.scandir(folder)]
            except FileNotFoundError:
                continue
            except OSError as exc:
                found.append(f"{folder} cannot be read: {exc}")
                continue
            if left:
                found.append(f"{folder} still holds {len(left)} entries (e.g. {left[0][:60]!r})")
        if self.student_uid is not None:
            alive = self._student_processes()
            if alive:
                found.append(f"{len(alive)} process(es) of the student uid {self.student_uid} still run")
        if self.tmp is not None and self.tmp_baseline is not None:
            now = TmpUsage.of(self.tmp)
            grown_bytes, grown_inodes = now.bytes - self.tmp_baseline.bytes, now.inodes - self.tmp_baseline.inodes
            if grown_bytes > SLACK_BYTES or grown_inodes > SLACK_INODES:
                found.append(f"{self.tmp} holds {grown_bytes} bytes and {grown_inodes} inodes more than after warm-up")
        return found
