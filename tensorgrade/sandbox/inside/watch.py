"""The supervisor's watch over one attempt: the student's output and messages, its deadlines, its end.

Output and messages come on two pipes; the kernel's messages are checked line by line against the
protocol (`protocol.decode`, `protocol.MessageOrder`), so a line written by student code into the
message pipe stops the attempt as tampering. Deadlines: a cell or check past its time limit gets
SIGINT (a KeyboardInterrupt, as Jupyter's interrupt), then a hard stop after a grace period; the
submission's total time limit ends everything. When the process dies, the cell or check it was in
is recorded and the worker starts a new attempt that skips it.
"""

from __future__ import annotations

import os
import select
import signal
import time

from tensorgrade.sandbox import protocol, transport
from tensorgrade.sandbox.inside.supervisor import RESTART, Supervisor

INTERRUPT_GRACE_SECONDS = 3.0


class Watch:
    def __init__(self, supervisor: Supervisor, pid: int, msg_r: int, cmd_w: int, out_r: int):
        self.supervisor = supervisor
        self.state = supervisor.state
        self.record = supervisor.recorder
        self.pid, self.msg_r, self.cmd_w, self.out_r = pid, msg_r, cmd_w, out_r
        self.order = protocol.MessageOrder(plan=supervisor.cell_plan())
        self.current_deadline = float("inf")
        self.interrupted_at: float | None = None
        self.progress = False  # a cell or check finished in this attempt
        self.buffer = b""
        self.output = bytearray()  # the current cell's output
        self.open_fds = {msg_r, out_r}
        # Watch the process itself too: children it forked may hold the pipes open long after it ends.
        self.pidfd = os.pidfd_open(pid)
        self.exited = False
        self.stages: list[protocol.ProbeStage] | None = None
        self.stages_sent = 0
        self.probe_timeouts: dict[str, float] = {}
        self.tampered: dict[str, str] = {}  # check -> what the audit hook reported while it ran
        self.violation: str | None = None

    def run(self) -> int:
        """The supervisor's exit code: 0 when this attempt settled the job, RESTART for another."""
        try:
            stopped = self._loop()
        finally:
            os.close(self.pidfd)
        return stopped if stopped is not None else self._conclude()

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self) -> int | None:
        while (self.open_fds and not self.order.finished and self.violation is None
               and self.state.grader_failure is None):
            now = time.monotonic()
            stopped = self._enforce_deadlines(now)
            if stopped is not None:
                return stopped
            ready = self._wait(now)
            if ready is None:
                break
            if self.out_r in ready:
                chunk = os.read(self.out_r, 65536)
                if not chunk:
                    self.open_fds.discard(self.out_r)
                else:
                    self.record.capture_output(chunk, self.output)
            if self.msg_r in ready:
                self._read_messages()
        return None

    def _enforce_deadlines(self, now: float) -> int | None:
        supervisor, current = self.supervisor, self.order.current
        if now > supervisor.deadline:
            self.record.hard_stop(current, "timeout", "the submission's total time limit was reached")
            self.state.aborted = f"submission time limit of {supervisor.settings['submission_timeout']} s reached"
            supervisor.save()
            return 0
        if current is not None and now > self.current_deadline:
            if self.interrupted_at is None:
                os.kill(self.pid, signal.SIGINT)  # KeyboardInterrupt, as Jupyter's interrupt
                self.interrupted_at = now
                self.current_deadline = now + INTERRUPT_GRACE_SECONDS
            else:
                self.record.hard_stop(current, "timeout",
                                      self.record.timeout_message(current, self.probe_timeouts, hard=True))
                supervisor.save()
                return RESTART
        return None

    def _wait(self, now: float) -> list[int] | None:
        """The pipes ready to read; None once the process has exited and nothing is left to read."""
        if self.exited:  # drain what it wrote before exiting, without waiting on inherited pipe ends
            ready = select.select(list(self.open_fds), [], [], 0)[0]
            return ready or None
        wait = max(0.0, min(self.current_deadline, self.supervisor.deadline) - now)
        ready = select.select([*self.open_fds, self.pidfd], [], [], min(wait, 1.0))[0]
        if self.pidfd in ready:
            self.exited = True
            return []
        return ready

    def _read_messages(self) -> None:
        chunk = os.read(self.msg_r, 1 << 20)
        if not chunk:
            self.open_fds.discard(self.msg_r)
            return
        self.buffer += chunk
        if len(self.buffer) > transport.MAX_MESSAGE_BYTES:
            self.violation = "a message over the size cap"
            return
        lines = self.buffer.split(b"\n")
        self.buffer = lines.pop()
        for line in lines:
            try:
                self._handle(protocol.decode(line))
            except protocol.ProtocolViolation as exc:
                self.violation = str(exc)
                return

    # -- one message ------------------------------------------------------------------------

    def _handle(self, message: protocol.KernelMessage) -> None:
        if isinstance(message, protocol.Tamper):
            self._tamper(message)
            return
        self.order.step(message)  # ProtocolViolation when out of order
        if isinstance(message, protocol.Confined):
            self.record.confined(message)
            if message.unreadable:
                self.state.grader_failure = ("the sandbox cannot run Python code for this submission: "
                                             + "; ".join(u[:300] for u in message.unreadable[:5]))
        elif isinstance(message, protocol.CellStart):
            # Output and messages come on two pipes, so their order is only known at these
            # handshakes: what is in the output pipe now was written before the cell; the kernel
            # runs the cell only once it has this "go".
            self._drain(bytearray())
            self.output.clear()
            self._started(float(self.supervisor.settings["cell_timeout"]))
            os.write(self.cmd_w, protocol.encode(protocol.Go()))
        elif isinstance(message, protocol.CellEnd):
            # The kernel flushed stdout and stderr before cell_end: the cell's output is all in the
            # pipe already.
            self._drain(self.output)
            self.record.cell(message, self.output, self.interrupted_at is not None)
            self.output.clear()
            self.record.findings(message.findings)
            self._ended()
        elif isinstance(message, protocol.Integrity):
            self.record.findings(message.findings)
        elif isinstance(message, protocol.WantProbes):
            self._send_stage()
        elif isinstance(message, protocol.ProbeStart):
            self._started(self.probe_timeouts[message.check])
        elif isinstance(message, protocol.ProbeEnd):
            if message.check in self.tampered:
                message = protocol.ProbeEnd(
                    check=message.check, status="untrusted", seconds=message.seconds,
                    error=f"while this check ran, your code {self.tampered[message.check]}: the grader's "
                          "observations cannot be trusted, so the check fails")
            self.record.probe(message, self.interrupted_at is not None, self.probe_timeouts)
            self._ended()
        elif isinstance(message, protocol.Finished):
            self.state.finished = True

    def _tamper(self, message: protocol.Tamper) -> None:
        what = message.what[:300]
        if message.grader:
            self.violation = f"the grader's own code was changed: {what}"
            raise protocol.ProtocolViolation(self.violation)
        current = self.order.current
        if current is not None and current[0] == "probe":
            self.tampered.setdefault(str(current[1]), what)
            self.record.findings([f"while check {current[1]} ran, the notebook's code {what}"])
        else:
            self.record.findings([f"the notebook's code {what}"])

    def _started(self, limit: float) -> None:
        self.current_deadline = time.monotonic() + limit
        self.interrupted_at = None

    def _ended(self) -> None:
        self.current_deadline, self.interrupted_at = float("inf"), None
        self.progress = True

    def _send_stage(self) -> None:
        supervisor = self.supervisor
        if self.stages is None:
            self.stages, self.probe_timeouts = supervisor.probe_stages()
        stage = self.stages[self.stages_sent]
        self.stages_sent += 1
        self.order.stage_sent([c.check for c in stage.calls if c.check not in supervisor.done_at_start],
                              len(self.stages) - self.stages_sent)
        if any(c.visibility != "public" for c in stage.calls):
            self.state.hidden_released = True
            supervisor.save()
        supervisor.send(self.cmd_w, stage)

    def _drain(self, into: bytearray) -> None:
        """Reads what is waiting in the output pipe without blocking.

        Bounded: a process left behind that writes without end must not hold the supervisor here
        (what was written before the handshake is at most a pipe's capacity)."""
        if self.out_r not in self.open_fds:
            return
        for _ in range(64):
            if not select.select([self.out_r], [], [], 0)[0]:
                break
            chunk = os.read(self.out_r, 65536)
            if not chunk:
                self.open_fds.discard(self.out_r)
                return
            self.record.capture_output(chunk, into)

    # -- after the loop ---------------------------------------------------------------------

    def _conclude(self) -> int:
        supervisor, state = self.supervisor, self.state
        if state.grader_failure is not None:
            supervisor.save()
            return 0
        if self.violation is not None:
            # Whatever it reported may be forged: no check of this run is graded, and the TA sees why.
            self.record.untrusted_run(self.violation)
            supervisor.save()
            return 0
        if state.finished:
            supervisor.save()
            return 0
        status = self._wait_exit()
        if state.finished:
            supervisor.save()
            return 0
        reason = f"the notebook's process {status}"
        current = self.order.current
        if current is not None:
            in_probe = current[0] == "probe"
            self.record.hard_stop(current, "crashed" if in_probe else "error",
                                  reason + (" while this check ran" if in_probe else ""))
            supervisor.save()
            return RESTART
        if not self.progress:
            # Died between cells and checks (a background thread, a signal): nothing left to retry.
            tail = "" if state.hidden_released else self.output.decode("utf-8", "replace").strip()[-1500:]
            state.aborted = f"{reason} outside any cell or check" + (f": {tail}" if tail else "")
            supervisor.save()
            return 0
        supervisor.save()
        return RESTART

    def _wait_exit(self) -> str:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            done, status = os.waitpid(self.pid, os.WNOHANG)
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
