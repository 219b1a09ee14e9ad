"""The messages between the student's process and its supervisor, and their order, without a sandbox:
`protocol.decode` accepts exactly the declared messages, `MessageOrder` exactly the kernel's order."""

import json

import numpy as np
import pytest

from tensorgrade.sandbox import protocol
from tensorgrade.sandbox.protocol import (CellEnd, CellStart, Confined, Finished, Integrity, MessageOrder, ProbeEnd,
                                          ProbeStart, ProtocolViolation, Tamper, WantProbes)


def wire(message) -> bytes:
    return protocol.encode(message)


@pytest.mark.parametrize("message", [
    Confined(problems={"seccomp": "missing"}), CellStart(index=3),
    CellEnd(index=3, status="error", error="Traceback ...", seconds=0.25, findings=["math.isclose was replaced"]),
    WantProbes(), Integrity(findings=[]), ProbeStart(check="q1.forward"),
    ProbeEnd(check="q1.forward", status="ok", output={"y": [1.0, 2.0]}, seconds=0.1),
    ProbeEnd(check="q1.forward", status="not_defined", error="`f` is not defined"), Finished(),
    Tamper(what="called sys.settrace", grader=False),
])
def test_every_kernel_message_survives_the_wire(message):
    assert protocol.decode(wire(message)) == message


def test_messages_are_encoded_with_the_builtins_of_import_time(monkeypatch):
    """A notebook thread that keeps builtins.float replaced (hostile corpus: thread_repatching) must
    not turn the kernel's own cell_end into a malformed message that blames the student."""
    import builtins
    message = CellEnd(index=1, status="ok", seconds=0.5, findings=[])
    monkeypatch.setattr(builtins, "float", lambda *args: 0.0)
    monkeypatch.setattr(builtins, "isinstance", lambda *args: False)
    line = wire(message)
    monkeypatch.undo()
    assert protocol.decode(line) == message


def test_arrays_in_a_probe_output_travel_as_arrays():
    decoded = protocol.decode(wire(ProbeEnd(check="q1.a", status="ok", output=np.arange(6.0).reshape(2, 3))))
    assert isinstance(decoded.output, np.ndarray) and decoded.output.shape == (2, 3)


def test_the_probe_statuses_are_one_vocabulary():
    assert protocol.KERNEL_PROBE_STATUSES == {"ok", "not_defined", "error", "untrusted", "interrupted"}
    assert protocol.PROBE_STATUSES == {"ok", "not_defined", "error", "untrusted", "timeout", "crashed", "missing"}
    # what the kernel reports, less "interrupted" (recorded as a timeout), is what a record can hold
    assert protocol.KERNEL_PROBE_STATUSES - {"interrupted"} <= protocol.PROBE_STATUSES


@pytest.mark.parametrize("line, reason", [
    (b"not json", "not a message"),
    (b"[1, 2]", "not a message"),
    (b'{"index": 1}', "not a message"),
    (b'{"op": "cell_passed"}', "unknown 'cell_passed'"),
    (b'{"op": "cell_start", "index": "1"}', "malformed 'cell_start'"),
    (b'{"op": "cell_start", "index": true}', "malformed 'cell_start'"),
    (b'{"op": "cell_start"}', "malformed 'cell_start'"),
    (b'{"op": "cell_start", "index": 1, "score": 10}', "malformed 'cell_start'"),
    (b'{"op": "probe_end", "check": "q1.a", "status": "passed"}', "malformed 'probe_end'"),
    (b'{"op": "probe_end", "check": "q1.a", "status": "timeout"}', "malformed 'probe_end'"),
    (b'{"op": "cell_end", "index": 1, "status": "ok", "findings": [1]}', "malformed 'cell_end'"),
    (b'{"op": "tamper", "what": "x", "grader": "no"}', "malformed 'tamper'"),
    (b'{"op": "cell_start", "index": NaN}', "not a message"),
])
def test_anything_else_is_a_violation_that_says_what_it_was(line, reason):
    with pytest.raises(ProtocolViolation, match=reason):
        protocol.decode(line)


def test_supervisor_messages_are_their_own_vocabulary():
    stage = protocol.ProbeStage(sources={"public": "def f(ns, x): return x"},
                                calls=[protocol.ProbeCallSpec("q1.a", "public", "f", [1, 2], 5.0, "public")])
    decoded = protocol.decode(json.dumps(protocol.to_wire(stage)), protocol.SUPERVISOR_MESSAGES)
    assert decoded == stage and not decoded.last
    assert protocol.decode(wire(protocol.Go()), protocol.SUPERVISOR_MESSAGES) == protocol.Go()
    with pytest.raises(ProtocolViolation):  # a kernel message is not something the supervisor sends
        protocol.decode(wire(CellStart(index=0)), protocol.SUPERVISOR_MESSAGES)


def test_worker_requests_and_replies():
    for message in (protocol.RunJob(job="ab12"), protocol.StopWorker()):
        assert protocol.decode(json.dumps(protocol.to_wire(message)), protocol.WORKER_REQUESTS) == message
    for message in (protocol.WorkerReady(), protocol.PreloadFailed(module="tensorflow", error="ModuleNotFoundError"),
                    protocol.JobDone(job="ab12"), protocol.JobFailed(job="ab12", error="OSError()")):
        assert protocol.decode(json.dumps(protocol.to_wire(message)), protocol.WORKER_REPLIES) == message


# -- the order -----------------------------------------------------------------------------------

def run_in_order(order: MessageOrder, messages) -> None:
    for message in messages:
        order.step(message)


def kernel_run(plan, stages, done=()):
    """The messages a well-behaved kernel sends for `plan` cells and `stages` (lists of check ids)."""
    yield Confined()
    for index in plan:
        yield CellStart(index=index)
        yield CellEnd(index=index, status="ok")
    for stage in [*stages, []]:
        yield WantProbes()
        if not stage:
            break
        yield Integrity()
        for check in stage:
            if check in done:
                continue
            yield ProbeStart(check=check)
            yield ProbeEnd(check=check, status="ok")
    yield Finished()


def drive(order: MessageOrder, plan, stages, done=()):
    """Feed the kernel's messages, answering each `want_probes` as the supervisor does."""
    sent = 0
    for message in kernel_run(plan, stages, done):
        order.step(message)
        if isinstance(message, WantProbes):
            stage = [*stages, []][sent]
            sent += 1
            order.stage_sent([c for c in stage if c not in done], len(stages) + 1 - sent)


def test_a_well_behaved_kernel_is_accepted_to_the_end():
    order = MessageOrder(plan=[0, 2, 5])
    drive(order, [0, 2, 5], [["q1.a", "q1.b"], ["q2.hidden"]])
    assert order.finished and order.current is None


def test_checks_done_in_an_earlier_attempt_are_not_expected_again():
    order = MessageOrder(plan=[1])
    drive(order, [1], [["q1.a", "q1.b"]], done={"q1.a"})
    assert order.finished


def test_the_current_cell_or_check_is_known_for_timeouts_and_crashes():
    order = MessageOrder(plan=[4])
    run_in_order(order, [Confined(), CellStart(index=4)])
    assert order.current == ("cell", 4)
    run_in_order(order, [CellEnd(index=4, status="ok"), WantProbes()])
    order.stage_sent(["q1.a"], 1)
    run_in_order(order, [Integrity(), ProbeStart(check="q1.a")])
    assert order.current == ("probe", "q1.a")


@pytest.mark.parametrize("prefix, message, reason", [
    ([], CellStart(index=0), "before the sandbox was set up"),
    ([Confined()], CellStart(index=1), "unexpected 'cell_start'"),             # a cell out of plan order
    ([Confined()], CellEnd(index=0, status="ok"), "unexpected 'cell_end'"),    # a forged result
    ([Confined(), CellStart(index=0)], CellStart(index=1), "during cell 0"),  # no end before the next
    ([Confined(), CellStart(index=0)], CellEnd(index=1, status="ok"), "unexpected 'cell_end' message during cell 0"),
    ([Confined(), CellStart(index=0)], WantProbes(), "unexpected 'want_probes'"),  # the inputs, mid-cell
    ([Confined()], Finished(), "unexpected 'finished'"),
    ([Confined(), CellStart(index=0), CellEnd(index=0, status="ok"), CellStart(index=1), CellEnd(index=1, status="ok")],
     ProbeStart(check="q1.a"), "unexpected 'probe_start'"),  # before any stage was sent
    ([Confined(), CellStart(index=0), CellEnd(index=0, status="ok"), CellStart(index=1), CellEnd(index=1, status="ok")],
     Integrity(), "unexpected 'integrity'"),
])
def test_out_of_order_messages_are_violations(prefix, message, reason):
    order = MessageOrder(plan=[0, 1])
    run_in_order(order, prefix)
    assert order.violation(message) is not None
    with pytest.raises(ProtocolViolation, match=reason):
        order.step(message)


def test_probe_messages_follow_the_stage_the_supervisor_sent():
    order = MessageOrder(plan=[])
    run_in_order(order, [Confined(), WantProbes()])
    order.stage_sent(["q1.a", "q1.b"], 1)
    order.step(Integrity())
    with pytest.raises(ProtocolViolation):
        order.step(ProbeStart(check="q1.b"))  # the stage's order
    run_in_order(order, [ProbeStart(check="q1.a")])
    with pytest.raises(ProtocolViolation):
        order.step(ProbeEnd(check="q1.b", status="ok"))  # not the running check
    run_in_order(order, [ProbeEnd(check="q1.a", status="ok")])
    with pytest.raises(ProtocolViolation):
        order.step(WantProbes())  # the stage is not done
    with pytest.raises(ProtocolViolation):
        order.step(Finished())
    run_in_order(order, [ProbeStart(check="q1.b"), ProbeEnd(check="q1.b", status="ok"), WantProbes()])
    order.stage_sent([], 0)
    order.step(Finished())
    with pytest.raises(ProtocolViolation, match="after the kernel finished"):
        order.step(CellStart(index=0))


def test_tamper_reports_come_at_any_time():
    order = MessageOrder(plan=[0])
    for prefix in ([], [Confined()], [CellStart(index=0)]):
        run_in_order(order, prefix)
        assert order.violation(Tamper(what="called gc.get_objects")) is None
        order.step(Tamper(what="called gc.get_objects"))


def test_violation_changes_nothing():
    order = MessageOrder(plan=[0])
    order.step(Confined())
    before = (order.current, order.next_cell, list(order.stage_calls), order.stages_left)
    assert order.violation(CellEnd(index=0, status="ok")) is not None
    assert order.violation(CellStart(index=0)) is None
    assert (order.current, order.next_cell, list(order.stage_calls), order.stages_left) == before
