"""What the supervisor records of one submission: its job folder's `state.json`.

The record survives the supervisor: when the student's process dies or ignores an interrupt, the
worker starts a new supervisor, which reads what the last one recorded (cells run, checks done,
cells to skip) and goes on from there. Everything recorded here came from the student's process,
so every field is bounded in size and converted to plain types before it is kept.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tensorgrade.sandbox import protocol, transport

MAX_OUTPUT_PER_CELL = 20_000
MAX_OUTPUT_PER_JOB = 1_000_000
MAX_FINDINGS = 100


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
    # Set when the grader's side failed (the supervisor, a file it could not copy, a sandbox in which
    # Python cannot run): the submission is a grader error, never a score, and is run again.
    grader_failure: str | None = None
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


class Recorder:
    """Turns what one attempt observed into `JobState` records."""

    def __init__(self, state: JobState, settings: dict):
        self.state = state
        self.settings = settings
        self.output_total = 0

    def capture_output(self, chunk: bytes, output: bytearray) -> None:
        room = min(MAX_OUTPUT_PER_CELL - len(output), MAX_OUTPUT_PER_JOB - self.output_total)
        if room > 0:
            output.extend(chunk[:room])
            self.output_total += min(room, len(chunk))
        self.state.output_dropped += max(0, len(chunk) - max(room, 0))

    def confined(self, message: protocol.Confined) -> None:
        self.state.confinement_problems = {str(k): str(v)[:300] for k, v in message.problems.items()}

    def cell(self, message: protocol.CellEnd, output: bytearray, interrupted: bool) -> None:
        key = str(message.index)
        if key in self.state.cells or self.state.hidden_released:
            return  # a re-run after a restart: the first run's record stands
        status = "timeout" if interrupted else ("ok" if message.status == "ok" else "error")
        error = message.error if status == "error" else None
        if interrupted:
            error = f"cell interrupted after the {self.settings['cell_timeout']} s cell time limit"
        self.state.cells[key] = {
            "status": status, "error": str(error)[:5000] if error else None,
            "seconds": float(message.seconds), "output": output.decode("utf-8", "replace"),
        }

    def findings(self, findings: list[str]) -> None:
        merged = set(self.state.integrity) | {str(f)[:500] for f in findings}
        self.state.integrity = sorted(merged)[:MAX_FINDINGS]

    def probe(self, message: protocol.ProbeEnd, interrupted: bool, timeouts: dict[str, float]) -> None:
        """One check's record, in the statuses of `protocol.ProbeStatus`."""
        if interrupted or message.status == "interrupted":
            record = {"status": "timeout", "error": self.timeout_message(("probe", message.check), timeouts)}
        elif message.status == "ok":
            record = {"status": "ok", "output": message.output}
        elif message.status in ("untrusted", "not_defined"):
            record = {"status": message.status, "error": str(message.error)[:2000]}
        else:
            record = {"status": "error", "error": str(message.error)[:5000]}
        assert record["status"] in protocol.PROBE_STATUSES
        record["seconds"] = float(message.seconds)
        self.state.probes[message.check] = record

    def timeout_message(self, current: protocol.Activity, timeouts: dict[str, float], hard: bool = False) -> str:
        kind, what = current
        limit = self.settings["cell_timeout"] if kind == "cell" else timeouts.get(what, "?")
        how = " and did not stop when interrupted" if hard else ""
        return f"{'cell' if kind == 'cell' else 'check'} ran past its {limit} s time limit{how}"

    def hard_stop(self, current: protocol.Activity | None, status: str, reason: str) -> None:
        """The cell or check that was running when the process had to be stopped (or died)."""
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

    def untrusted_run(self, violation: str) -> None:
        """Student code wrote into the message channel: nothing it reported is graded."""
        self.state.aborted = (f"the submission wrote into the grader's message channel ({violation}); nothing "
                              "it reported can be trusted, so its checks were not graded")
        self.state.probes = {}
        self.findings([f"tampering: {violation}"])
