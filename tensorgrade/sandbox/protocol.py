"""The messages between the student's process and its supervisor, and the order they must follow.

The kernel (in the student's process) writes one message per line to its supervisor: each a JSON
object with an `op` and the fields of one of the dataclasses below. The supervisor sends back a
"go" at the start of each cell and the probe payload in stages. Student code runs in the same
process as the kernel and can write into that pipe too, so the supervisor trusts a line only if it
parses as exactly one of these messages, with fields of the declared types, and arrives at a point
where the kernel would send it (`MessageOrder`, a pure state machine: no I/O, tested on its own).

Also here: the probe statuses, one vocabulary used from the kernel to the judge, and the
messages between the grader and its warm worker (`WorkerRequest`/`WorkerReply`).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal, Union, get_args

from tensorgrade.sandbox import transport

# Names in this module resolve to the builtins as they were at import, before any student code ran:
# a notebook thread that keeps re-patching builtins.float (or type, isinstance...) between the
# grader's resets cannot corrupt the kernel's own messages (tests/hostile: thread_repatching).
__builtins__ = dict(vars(builtins))

# -- probe statuses ---------------------------------------------------------------------------

# What the kernel reports for one probe call.
KernelProbeStatus = Literal[
    "ok",           # the probe returned data
    "not_defined",  # a name the check needs is missing from the submission
    "error",        # the student's code raised while the probe called it
    "untrusted",    # the student's code changed the grader's environment while the probe ran
    "interrupted",  # the probe was interrupted (its time limit): recorded as "timeout"
]
KERNEL_PROBE_STATUSES = frozenset(get_args(KernelProbeStatus))

# What the execution record holds for one check, and what the judging step reads.
ProbeStatus = Literal[
    "ok", "not_defined", "error", "untrusted",
    "timeout",  # past its time limit (interrupted, or stopped when it ignored the interrupt)
    "crashed",  # the student's process died while this check ran
    "missing",  # never ran: the submission was aborted before it (time limit, tampering)
]
PROBE_STATUSES = frozenset(get_args(ProbeStatus))

CellOutcome = Literal["ok", "error"]
CELL_OUTCOMES = frozenset(get_args(CellOutcome))


# The first line of an error whose traceback runs through the grader's check code: which call the
# grader made (the judge then says "the grader called ...", not "your code raised").
GRADER_CALL_PREFIX = "The grader's check called "
# How a probe's error begins when its result could not cross the boundary (an unsendable value):
# the kernel's sentence, said as it is, not as something the student's code raised.
UNSENDABLE_PREFIX = "the result could not be sent to the grader: "


class ProtocolViolation(ValueError):
    """A line that is not a message of this protocol, or a message out of order: student code
    wrote into the grader's channel."""


# -- messages from the kernel to its supervisor -----------------------------------------------

@dataclass(frozen=True)
class Confined:
    """The isolation layers are applied; `problems` names each layer that could not be, and
    `unreadable` what grading needs that the confined process cannot read (a broken host)."""
    op: ClassVar[str] = "confined"
    problems: dict[str, str] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CellStart:
    op: ClassVar[str] = "cell_start"
    index: int


@dataclass(frozen=True)
class CellEnd:
    op: ClassVar[str] = "cell_end"
    index: int
    status: CellOutcome
    error: str | None = None
    seconds: float = 0.0
    findings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WantProbes:
    """The kernel asks for the next stage of the probe payload (after the last cell)."""
    op: ClassVar[str] = "want_probes"


@dataclass(frozen=True)
class Integrity:
    """Integrity findings recorded since the last report (before each stage of probes)."""
    op: ClassVar[str] = "integrity"
    findings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProbeStart:
    op: ClassVar[str] = "probe_start"
    check: str


@dataclass(frozen=True)
class ProbeEnd:
    op: ClassVar[str] = "probe_end"
    check: str
    status: KernelProbeStatus
    output: Any = None
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class Finished:
    op: ClassVar[str] = "finished"


@dataclass(frozen=True)
class Tamper:
    """Sent by the audit hook the moment student code subverts the interpreter; any time."""
    op: ClassVar[str] = "tamper"
    what: str
    grader: bool = False  # the grader's own code was changed: nothing of this run is trusted


KernelMessage = Union[Confined, CellStart, CellEnd, WantProbes, Integrity, ProbeStart, ProbeEnd, Finished, Tamper]
KERNEL_MESSAGES: dict[str, type] = {cls.op: cls for cls in get_args(KernelMessage)}

# -- messages from the supervisor to the kernel -----------------------------------------------


@dataclass(frozen=True)
class Go:
    """The supervisor has taken the output written before this cell: the kernel may run it."""
    op: ClassVar[str] = "go"


@dataclass(frozen=True)
class ProbeCallSpec:
    """One check's probe call. Public checks run first, in a stage of their own: what students see
    of them is final before any hidden check's code or inputs enter the process."""
    check: str
    module: str  # which probes module: "public" or "hidden"
    probe: str  # function name in that module
    inputs: Any
    timeout: float
    visibility: str = "hidden"


@dataclass(frozen=True)
class ProbeStage:
    """One stage of the probe payload: public checks first, hidden ones after, then an empty stage."""
    op: ClassVar[str] = "stage"
    sources: dict[str, str] = field(default_factory=dict)
    calls: list[ProbeCallSpec] = field(default_factory=list)

    @property
    def last(self) -> bool:
        return not self.calls


# -- messages between the grader and its warm worker ------------------------------------------

@dataclass(frozen=True)
class RunJob:
    op: ClassVar[str] = "run"
    job: str


@dataclass(frozen=True)
class StopWorker:
    op: ClassVar[str] = "stop"


@dataclass(frozen=True)
class WorkerReady:
    op: ClassVar[str] = "ready"


@dataclass(frozen=True)
class PreloadFailed:
    """A module the assignment preloads cannot be imported in the sandbox: the grading machine lacks it."""
    op: ClassVar[str] = "preload_failed"
    module: str
    error: str


@dataclass(frozen=True)
class JobDone:
    """The job's record is complete. `retire`: why this worker must not take another submission
    (its slot could not be made pristine); it exits, and the grader starts a fresh one."""
    op: ClassVar[str] = "done"
    job: str
    retire: str | None = None


@dataclass(frozen=True)
class JobFailed:
    """The grader's side of the job failed (not the student's code): the job is to be run again,
    on a fresh worker when `retire` is set."""
    op: ClassVar[str] = "failed"
    job: str
    error: str
    retire: bool = False


WorkerRequest = Union[RunJob, StopWorker]
WorkerReply = Union[WorkerReady, PreloadFailed, JobDone, JobFailed]
WORKER_REQUESTS: dict[str, type] = {cls.op: cls for cls in get_args(WorkerRequest)}
WORKER_REPLIES: dict[str, type] = {cls.op: cls for cls in get_args(WorkerReply)}
SUPERVISOR_MESSAGES: dict[str, type] = {Go.op: Go, ProbeStage.op: ProbeStage}

# -- encoding ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list) and value and hasattr(value[0], "__dataclass_fields__"):
        return [_plain(item) for item in value]
    return value  # not copied: a probe's output can be large arrays


def to_wire(message) -> dict:
    """The message as the JSON object that travels (its `op` first)."""
    return {"op": message.op, **_plain(message)}


def encode(message) -> bytes:
    """One line of the protocol (strict, size-capped JSON; see `transport`)."""
    return (transport.dumps(to_wire(message)) + "\n").encode()


def _typed(value: Any, kind: Any) -> bool:
    """Whether a decoded JSON value has the declared field type (the few types used above)."""
    if kind is Any:
        return True
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in (str, bool):
        return isinstance(value, kind)
    origin = getattr(kind, "__origin__", None)
    args = get_args(kind)
    if origin is Literal:
        return isinstance(value, str) and value in args
    if origin is Union or type(kind).__name__ == "UnionType":
        return any(_typed(value, arg) for arg in args)
    if kind is type(None):
        return value is None
    if origin is list:
        return isinstance(value, list) and all(_typed(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(_typed(k, args[0]) and _typed(v, args[1]) for k, v in value.items())
    if isinstance(kind, type) and hasattr(kind, "__dataclass_fields__"):
        return isinstance(value, dict) and _build(kind, value) is not None
    raise TypeError(f"protocol field type not supported: {kind!r}")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        import typing

        _HINTS[cls] = {k: v for k, v in typing.get_type_hints(cls).items() if k != "op"}
    return _HINTS[cls]


def _build(cls: type, data: dict):
    hints = _hints(cls)
    names = {f.name for f in fields(cls)}
    if set(data) - {"op"} - names:
        return None  # unknown fields: not something the kernel writes
    values = {}
    for f in fields(cls):
        if f.name not in data:
            continue  # a default, or a required field whose absence cls() refuses below
        if not _typed(data[f.name], hints[f.name]):
            return None
        values[f.name] = data[f.name]
    try:
        built = cls(**values)
    except TypeError:  # a required field is missing
        return None
    if cls is ProbeStage:
        built = ProbeStage(sources=built.sources, calls=[ProbeCallSpec(**c) for c in data.get("calls", [])])
    return built


def decode(line: bytes | str, kinds: dict[str, type] = KERNEL_MESSAGES):
    """Parse one line into a message of `kinds`; ProtocolViolation for anything else."""
    try:
        data = transport.loads(line)
    except transport.TransportError as exc:
        raise ProtocolViolation("a line that is not a message") from exc
    if not isinstance(data, dict) or not isinstance(data.get("op"), str):
        raise ProtocolViolation("a line that is not a message")
    cls = kinds.get(data["op"])
    if cls is None:
        raise ProtocolViolation(f"an unknown {str(data['op'])[:40]!r} message")
    message = _build(cls, data)
    if message is None:
        raise ProtocolViolation(f"a malformed {cls.op!r} message")
    return message


# -- the order of the kernel's messages -------------------------------------------------------

Activity = tuple[Literal["cell"], int] | tuple[Literal["probe"], str]


@dataclass
class MessageOrder:
    """Where the exchange with the kernel stands, and which message may come next.

    The kernel's messages follow one order: `confined`; for each planned cell `cell_start`, then
    `cell_end` of that cell; then for each stage of probes `want_probes` (answered with the stage),
    `integrity`, and for each of the stage's checks `probe_start` then `probe_end` of that check;
    after the last stage (an empty one) `finished`. `tamper` may come at any time and is not part
    of the order. Anything else was written by student code (forged results, a request for the
    probes' inputs in the middle of a cell)."""

    plan: list[int]  # the notebook cells the kernel runs in this attempt, in order
    confined: bool = False
    current: Activity | None = None
    next_cell: int = 0
    stages_left: int | None = None  # None until the first stage is sent
    stage_calls: list[str] = field(default_factory=list)  # the stage's checks still to start
    finished: bool = False

    @property
    def cells_done(self) -> bool:
        return self.next_cell == len(self.plan) and self.current is None

    @property
    def in_probes(self) -> bool:
        return self.stages_left is not None

    def violation(self, message: KernelMessage) -> str | None:
        """Why `message` cannot come from the kernel now, or None when it can. Changes nothing."""
        if isinstance(message, Tamper):
            return None
        op = message.op
        if self.finished:
            return f"a {op!r} message after the kernel finished"
        if not self.confined:
            return None if isinstance(message, Confined) else f"a {op!r} message before the sandbox was set up"
        allowed = False
        if isinstance(message, CellStart):
            allowed = (self.current is None and self.next_cell < len(self.plan)
                       and message.index == self.plan[self.next_cell])
        elif isinstance(message, CellEnd):
            allowed = self.current == ("cell", message.index)
        elif isinstance(message, WantProbes):
            allowed = self.cells_done and (self.stages_left is None or (self.stages_left > 0 and not self.stage_calls))
        elif isinstance(message, Integrity):
            allowed = self.cells_done and self.in_probes
        elif isinstance(message, ProbeStart):
            allowed = self.cells_done and bool(self.stage_calls) and message.check == self.stage_calls[0]
        elif isinstance(message, ProbeEnd):
            allowed = self.current == ("probe", message.check)
        elif isinstance(message, Finished):
            allowed = self.cells_done and self.stages_left == 0 and not self.stage_calls
        if allowed:
            return None
        where = f"during {self.current[0]} {self.current[1]}" if self.current else "between cells and checks"
        return f"an unexpected {op!r} message {where}"

    def accept(self, message: KernelMessage) -> None:
        """Move past `message`, which `violation` allowed. (`WantProbes` moves on with `stage_sent`.)"""
        if isinstance(message, Confined):
            self.confined = True
        elif isinstance(message, CellStart):
            self.current = ("cell", message.index)
            self.next_cell += 1
        elif isinstance(message, ProbeStart):
            self.current = ("probe", self.stage_calls.pop(0))
        elif isinstance(message, (CellEnd, ProbeEnd)):
            self.current = None
        elif isinstance(message, Finished):
            self.finished = True

    def step(self, message: KernelMessage) -> None:
        """`violation` then `accept`; ProtocolViolation when the message is out of order."""
        reason = self.violation(message)
        if reason is not None:
            raise ProtocolViolation(reason)
        self.accept(message)

    def stage_sent(self, checks: list[str], stages_left: int) -> None:
        """The supervisor answered `want_probes` with a stage whose checks the kernel will start
        in this order (`checks`: those not already recorded), leaving `stages_left` stages after it."""
        self.stage_calls = list(checks)
        self.stages_left = stages_left
