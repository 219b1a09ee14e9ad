"""The resource limits of one submission's process: declared by an assignment, applied inside the sandbox."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 6144  # RLIMIT_AS: torch's virtual size grows with threads, 4-8 GB is needed
    cpu_seconds: int = 600
    file_size_mb: int = 256
    max_processes: int = 256
    open_files: int = 1024
