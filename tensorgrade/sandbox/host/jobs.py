"""A job and its record: what the grader asks a worker to run, and what happened, in plain data.

A job is a notebook's code cells plus the probes to run after them; its record is what happened:
per-cell status, each probe's raw output, integrity findings, isolation problems, timing.  The
record is read from the job folder only after the worker says the job is done, and parsed with
`transport.loads` (strict JSON, size-capped, no code).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tensorgrade.sandbox import protocol, transport
from tensorgrade.sandbox.limits import Limits


@dataclass
class ExecutionSettings:
    cell_timeout: float = 60.0
    submission_timeout: float = 600.0
    limits: Limits = field(default_factory=Limits)
    threads: int = 1


# A job's probe calls are the very calls the supervisor sends to the kernel: one definition.
ProbeRequest = protocol.ProbeCallSpec


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
    status: protocol.ProbeStatus
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
    # The grader's side failed while running it (see records.JobState.grader_failure): no verdict.
    grader_failure: str | None = None


def write_job(job_dir: Path, job: Job) -> None:
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


def read_record(job_dir: Path, job: Job) -> ExecutionRecord:
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
        output_dropped=int(state.get("output_dropped") or 0),
        grader_failure=str(state["grader_failure"]) if state.get("grader_failure") else None)
