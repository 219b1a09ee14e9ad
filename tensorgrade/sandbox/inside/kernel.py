"""Inside the student's process: run the notebook's cells, then the probes.

This module runs in the sandboxed child that the worker forks for one submission, after the
isolation layers are applied.  It talks to its supervisor over two pipes: messages out (one JSON
object per line, see `Channel`) and the probe payload in, which the supervisor sends only after
the last cell has run, so no student cell ever has the probes' inputs in its process.  Payloads come
in stages, public checks first: everything a student may see (cell records, public checks'
messages) is final before a hidden check's code or inputs enter the process.

What student code does to this process is watched twice: `integrity` compares and restores the
interpreter between cells and around every probe, and an audit hook (which Python code cannot
remove) reports, the moment it happens and straight to the supervisor, the moves that would subvert
the grader from inside: replacing the body of a library or grader function, installing trace or
profile functions, walking the garbage collector's objects, opening a process's memory.

Nothing here decides a verdict: probes return plain data, the judge outside compares it.
"""

from __future__ import annotations

import builtins
import io
import os
import random
import signal
import sys
import threading
import time
import traceback
import types
import zlib
from tokenize import COMMENT, TokenError, generate_tokens

from tensorgrade.sandbox import protocol, transport
from tensorgrade.sandbox.inside import integrity
from tensorgrade.sandbox.inside.audit import grader_code, install_audit_hook
from tensorgrade.sandbox.inside.shell import make_shell
from tensorgrade.checking.inside.probing import NotDefined

# Names in this module resolve to the builtins as they were at import, before any student code ran:
# a notebook thread that keeps re-patching builtins.float (or type, isinstance...) between the
# grader's resets cannot corrupt the kernel's own messages (tests/hostile: thread_repatching).
__builtins__ = dict(vars(builtins))

CELL_FILENAME_PREFIX = "<ipython-input-"
PROBE_FILENAME_PREFIX = "<probes:"
MAX_TRACEBACK_CHARS = 4000
PROBE_SWITCH_INTERVAL = 1e-5  # seconds; see run_probes


class Channel:
    """`protocol` messages to the supervisor (write end), and its answers (read end)."""

    def __init__(self, out_fd: int, in_fd: int):
        self._out = os.fdopen(out_fd, "wb", buffering=0)
        self._in = os.fdopen(in_fd, "rb", buffering=0)
        self._pid = os.getpid()

    def send(self, message: protocol.KernelMessage) -> None:
        if os.getpid() != self._pid:  # a copy forked by student code (a fork bomb) never speaks for it
            os._exit(0)
        data = protocol.encode(message)
        view = memoryview(data)
        while view:
            written = self._out.write(view)
            view = view[written:]

    def fileno(self) -> int:
        return self._out.fileno()

    def receive(self) -> protocol.Go | protocol.ProbeStage:
        chunks = []
        while True:
            chunk = self._in.read(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                break
        return protocol.decode(b"".join(chunks), protocol.SUPERVISOR_MESSAGES)


# Code a cell magic compiles under its own file name (%%time, %%timeit): its line numbers count
# from the line after the magic's.
MAGIC_FILENAMES = ("<timed exec>", "<timed eval>", "<magic-timeit>")


def trimmed_traceback(exc: BaseException, cell_names: dict[str, int],
                      current: tuple[int, str] | None = None) -> str:
    """The exception as a student needs it: only frames in their cells, then the error line.

    `current` is the running cell (index, source): frames of code its cell magic compiled are
    reported as that cell's lines, and the magic's own call (`get_ipython().run_cell_magic(...)`,
    the whole cell as a string) is left out."""
    if isinstance(exc, SyntaxError):
        where = cell_names.get(exc.filename or "", None)
        location = f"cell {where}, line {exc.lineno}" if where is not None else f"line {exc.lineno}"
        text = (exc.text or "").rstrip("\n")
        lines = [f"SyntaxError: {exc.msg} ({location})"]
        if text:
            lines += [f"    {text}", "    " + " " * max((exc.offset or 1) - 1, 0) + "^"]
        return "\n".join(lines)
    frames = []
    grader_call = None  # the last line of the grader's own check code on the way to the error
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(PROBE_FILENAME_PREFIX) or _is_vocabulary_probe(frame.filename):
            grader_call = _statement(frame) or grader_call
        if frame.filename in cell_names:
            if (frame.line or "").startswith("get_ipython().run_cell_magic(") and current is not None:
                continue
            frames.append(f'  cell {cell_names[frame.filename]}, line {frame.lineno}, in {frame.name}\n'
                          f'    {frame.line or ""}'.rstrip())
        elif frame.filename in MAGIC_FILENAMES and current is not None and frame.lineno:
            index, source = current
            lines = source.splitlines()
            line = lines[frame.lineno] if frame.lineno < len(lines) else ""
            frames.append(f'  cell {index}, line {frame.lineno + 1}, in {frame.name}\n    {line.strip()}'.rstrip())
    text = "\n".join(["Traceback (most recent call last, your code only):", *frames] if frames else [])
    if grader_call:
        call = grader_call if len(grader_call) <= 100 else grader_call[:99] + "…"
        text = f"{protocol.GRADER_CALL_PREFIX}`{call}`\n{text}".rstrip("\n")
    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    hint = environment_hint(exc)
    summary = f"{summary}\n{hint}" if hint else summary
    text = f"{text}\n{summary}" if text else summary
    return text[-MAX_TRACEBACK_CHARS:]


def _is_vocabulary_probe(filename: str) -> bool:
    """A frame of the check vocabulary's probes (tensorgrade/checking/inside/*.py): the grader's own calls."""
    import tensorgrade.checking.inside as probes

    return os.path.dirname(filename) == os.path.dirname(probes.__file__)


def _statement(frame: traceback.FrameSummary) -> str:
    """The whole statement a frame is at (a call over several lines too), on one line, without its
    comments: the grader's remarks beside its code are not part of the call a student reads."""
    import linecache

    last = frame.end_lineno if frame.end_lineno and frame.end_lineno >= frame.lineno else frame.lineno
    lines = [linecache.getline(frame.filename, n).strip() for n in range(frame.lineno, min(last, frame.lineno + 5) + 1)]
    return " ".join(line.strip() for line in _without_comments(lines) if line.strip()) or (frame.line or "").strip()


def _without_comments(lines: list[str]) -> list[str]:
    """Each line cut where its comment starts (by Python's tokenizer: a '#' in a string stays)."""
    starts = {}
    try:
        for token in generate_tokens(io.StringIO("".join(line + "\n" for line in lines)).readline):
            if token.type == COMMENT:
                starts[token.start[0]] = token.start[1]
    except (TokenError, SyntaxError):  # a statement cut off after its first lines: the comments found so far
        pass
    return [line[:starts[n]] if n in starts else line for n, line in enumerate(lines, 1)]


# Modules a course's students reach for that the grading environment cannot provide, and why.
UNAVAILABLE_MODULES = {
    "torchvision": "the grading environment has no torchvision: no build of it loads with its CPU torch. Use "
                   "torch, torch.utils.data and the data files given with the assignment instead",
}
NETWORK_ERRNOS = {101, 110, 111, 113, -2, -3, -5}  # unreachable, timed out, refused, no route, DNS failures
# Library functions that download a data set: whatever they raise during grading (keras.datasets'
# get_file fails on its cache folder, /tmp/.keras, before it tries the network) is a download failing.
DOWNLOAD_FUNCTIONS = {("keras", "get_file")}
NETWORK_MESSAGES = ("URL fetch failure", "Name or service not known", "Temporary failure in name resolution",
                    "Network is unreachable", "Failed to establish a new connection")


def environment_hint(exc: BaseException) -> str | None:
    """What the student should do when their code fails on the grading environment rather than on
    itself: a module the grader lacks, or a download (there is no network during grading)."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        if top in UNAVAILABLE_MODULES:
            return f"[grader] {UNAVAILABLE_MODULES[top]}"
        return (f"[grader] `{top}` is not installed in the grading environment: use the course's packages "
                "(torch, numpy, pandas, matplotlib, ...)")
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc)
        if (isinstance(exc, OSError) and getattr(exc, "errno", None) in NETWORK_ERRNOS
                or type(exc).__name__ in ("URLError", "gaierror", "ConnectionError", "ConnectTimeout")
                or any(marker in text for marker in NETWORK_MESSAGES) or _raised_in_a_download(exc)):
            return ("[grader] no network during grading: downloads (keras.datasets, torchvision, urllib) fail; "
                    "use the data files given with the assignment")
        exc = exc.__cause__ or exc.__context__
    return None


def _raised_in_a_download(exc: BaseException) -> bool:
    for frame in traceback.extract_tb(exc.__traceback__):
        parts = frame.filename.replace("\\", "/").split("/")
        if any(package in parts and frame.name == name for package, name in DOWNLOAD_FUNCTIONS):
            return True
    return False


class StudentSession:
    """One submission's namespace: cells first, probes after, all in this process."""

    def __init__(self, channel: Channel, cells: list[dict], skip: set[int], grader_codes: set | None = None):
        self.channel = channel
        self.cells = cells
        self.skip = skip
        self.shell = make_shell()
        self.cell_names: dict[str, int] = {}
        self.baseline = integrity.Baseline.capture(self.shell)
        self.findings: set[str] = set()
        self.modules: dict[str, types.ModuleType] = {}
        self.grader_codes = grader_codes if grader_codes is not None else set()
        # The reset through the functions as they are now, before any student code: replacing
        # Baseline's or this class's methods later changes nothing here (and is itself reported).
        baseline, shell = self.baseline, self.shell
        findings, restore = integrity.Baseline.findings, integrity.Baseline.restore
        state_findings, restore_state = integrity.Baseline.state_findings, integrity.Baseline.restore_state

        recorded = self.findings

        def reset(state: bool = False) -> list[str]:
            found = findings(baseline, shell)
            restore(baseline, shell)
            if state:
                found += state_findings(baseline)
                restore_state(baseline)
            recorded.update(found)
            return found

        # An instance attribute, called as such below: a class attribute the notebook replaces
        # (reset_interpreter) is never what runs between cells.
        self._reset = reset

    def reset_interpreter(self, state: bool = False) -> list[str]:
        """Record and undo what the last cell patched, before any grader code runs again; with
        `state`, also the process-wide state (modes, defaults, handlers) probes must not inherit.

        Patches live only inside the cell that made them: later cells, the probes and this
        module's own messages all run on genuine builtins, torch and numpy."""
        return self._reset(state)

    def run_cells(self) -> None:
        for cell in self.cells:
            index = cell["index"]
            if index in self.skip:
                continue
            self.channel.send(protocol.CellStart(index=index))
            self.channel.receive()  # the supervisor's "go": it has taken the output written so far
            started = time.perf_counter()
            status, error = self._run_one(index, cell["source"])
            seconds = time.perf_counter() - started
            self._reset()
            sys.stdout.flush()
            sys.stderr.flush()
            self.channel.send(protocol.CellEnd(index=index, status=status, error=error, seconds=seconds,
                                               findings=sorted(self.findings)))

    def _run_one(self, index: int, source: str) -> tuple[str, str | None]:
        count = self.shell.execution_count
        try:
            result = self.shell.run_cell(source, store_history=True, silent=False)
        except BaseException as exc:  # SystemExit and friends escaping IPython itself
            return "error", trimmed_traceback(exc, self.cell_names, (index, source))
        finally:
            self._name_cells(count, index)
        exc = result.error_before_exec or result.error_in_exec
        if exc is None:
            return "ok", None
        return "error", trimmed_traceback(exc, self.cell_names, (index, source))

    def _name_cells(self, count: int, index: int) -> None:
        # IPython compiles the cell it numbers N as "<ipython-input-N-hash>"; map it back to the
        # notebook index. (An empty cell takes no number, so N is not a count of the cells run.)
        import linecache

        for name in list(linecache.cache):
            if name.startswith(f"{CELL_FILENAME_PREFIX}{count}-"):
                self.cell_names[name] = index

    def run_probes(self, sources: dict[str, str], calls: list[protocol.ProbeCallSpec], done: set[str]) -> None:
        """One stage of probes (the supervisor sends public checks first, hidden ones after)."""
        self._reset(True)
        self.channel.send(protocol.Integrity(findings=sorted(self.findings)))
        for name, src in sources.items():
            self.modules[name] = _load_probe_module(name, src)
            self.grader_codes.update(grader_code([vars(self.modules[name])]))
        namespace = self.shell.user_ns
        for call in calls:
            if call.check in done:
                continue
            self._reset(True)  # anything student code left during the previous probe
            # A thread the notebook left spinning holds the GIL for a whole switch interval each
            # time a torch op releases it: at the default 5 ms, a training check ran 100 times
            # slower and timed out. Short intervals cost nothing when no other thread runs.
            sys.setswitchinterval(PROBE_SWITCH_INTERVAL)
            self.channel.send(protocol.ProbeStart(check=call.check))
            started = time.perf_counter()
            output, error = None, None
            try:
                probe = getattr(self.modules[call.module], call.probe)
                _seed_everything(call.check)
                output = probe(namespace, call.inputs)
                status = "ok"
            except NotDefined as exc:
                status, error = "not_defined", str(exc)
            except KeyboardInterrupt:
                status, error = "interrupted", "interrupted"
            except BaseException as exc:
                status, error = "error", trimmed_traceback(exc, self.cell_names)
            seconds = time.perf_counter() - started
            # What the student's code changed while the probe ran is undone before the result is
            # encoded, and makes the observation untrustworthy (it may have shaped it).
            changed = [f for f in self._reset(True) if integrity.shapes_observations(f)]
            if changed:
                status, output = "untrusted", None
                error = ("while this check ran, your code changed the grader's environment, so its "
                         "result cannot be trusted: " + "; ".join(changed[:5]))
            try:
                self.channel.send(protocol.ProbeEnd(check=call.check, status=status, output=output, error=error,
                                                    seconds=seconds))
            except (transport.TransportError, TypeError, ValueError) as exc:
                self.channel.send(protocol.ProbeEnd(check=call.check, status="error", seconds=seconds,
                                                    error=f"{protocol.UNSENDABLE_PREFIX}{exc}"))


def _load_probe_module(name: str, source: str) -> types.ModuleType:
    import linecache

    filename = f"{PROBE_FILENAME_PREFIX}{name}>"
    module = types.ModuleType(f"tensorgrade_probes_{name}")
    # Its lines, so that a traceback through check code can say which call the grader made.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def _seed_everything(check_id: str) -> None:
    """Same seeds for the student and the reference, so training probes compare like for like."""
    seed = zlib.crc32(check_id.encode())
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None:
        tensorflow.random.set_seed(seed)


def student_main(channel: Channel, cells: list[dict], skip: set[int], done_probes: set[str],
                 threads: int) -> None:
    """Entry point in the forked, confined child; never returns."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(max(1, threads))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    grader_codes = install_audit_hook(channel.fileno())
    session = StudentSession(channel, cells, skip, grader_codes)
    session.run_cells()
    sys.settrace(None)
    threading.settrace(None)  # type: ignore[arg-type]
    while True:  # stages of probes: public checks, then hidden ones, then an empty stage
        channel.send(protocol.WantProbes())
        stage = channel.receive()
        if not isinstance(stage, protocol.ProbeStage) or stage.last:
            break
        session.run_probes(stage.sources, stage.calls, done_probes)
    channel.send(protocol.Finished())
    sys.stdout.flush()
    os._exit(0)
