"""Checking your work in the notebook, as you write it:

    import tensorgrade.student as tg
    tg.init()                 # finds the released assignment beside the notebook (or tg.init("path/to/release"))
    tg.check("q1")            # runs q1's public checks on this kernel's variables; shows and returns the result
    tg.check_all()            # every question

The checks are the grader's public checks (the same inputs, probes, judges and messages), judged
against the reference's outputs stored in the release, on the definitions live in this kernel: no
saving, no sandbox. The verdict is advisory: grading runs your saved notebook in the sandbox, with
the hidden checks too.

Under the grader these functions do nothing: a released notebook's checker cells run there as any
cell does, so `tg.init()` returns None at once and `tg.check(...)` an empty report. That keeps a
submission's grading exactly what it was without them (no cell error, no output that matters, no
change of namespace but the name `tg`), also when a student has edited or moved the cells, which a
grader skipping cells by their metadata or source would not cover. "Under the grader" is the
sandbox's own supervisor being loaded in this process: the sandboxed student process is forked from
it, and nothing in a student's Jupyter kernel imports it (this package does not).

Light on import: the checker's machinery loads on the first `init()`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["init", "check", "check_all", "under_grader"]

# Loaded in the sandboxed process (the worker and the supervisor that forks the student's process).
_GRADER_MODULES = ("tensorgrade.sandbox.inside.supervisor", "tensorgrade.sandbox.inside.worker")

_state: dict = {"checker": None, "problem": None, "assignment": None}


def under_grader() -> bool:
    return any(name in sys.modules for name in _GRADER_MODULES)


def _shell():
    if "IPython" not in sys.modules:
        return None
    try:
        from IPython import get_ipython

        return get_ipython()
    except Exception:
        return None


def _namespace() -> tuple[dict, dict[str, str]]:
    """The live namespace (IPython's user namespace, else the caller's globals) and which code files
    are the student's (cells, else the calling script), for tracebacks."""
    shell = _shell()
    if shell is not None:
        from tensorgrade.student.live import ipython_cell_files

        return shell.user_ns, ipython_cell_files(shell)
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back  # out of this module: the student's script
    namespace = frame.f_globals
    filename = frame.f_code.co_filename
    return namespace, ({filename: Path(filename).name} if filename else {})


def init(where: str | os.PathLike | None = None, *, assignment: str | None = None, url: str | None = None,
         search_roots: list[str | os.PathLike] | None = None):
    """Load the released assignment to check against: `where` (a release folder or zip), else the
    one beside the notebook, else (in Colab) a release zip uploaded to /content or on a mounted
    Drive, else `url`. Returns a one-line status; never raises for a missing release: it says
    what to download and where to put it."""
    if under_grader():
        return None
    return _shown(_init(where, assignment, url, search_roots))


def _init(where, assignment, url, search_roots):
    from tensorgrade.student.display import Message
    from tensorgrade.student.locate import NotFound, find_release

    _state.update(checker=None, problem=None, assignment=assignment)
    namespace, _ = _namespace()
    roots = [Path(root) for root in search_roots] if search_roots is not None else None
    try:
        found = find_release(where, assignment=assignment, url=url, namespace=namespace, search_roots=roots)
        from tensorgrade.course.release.student_check import ReleaseError
        from tensorgrade.student.live import LiveChecker

        try:
            checker = LiveChecker.open(found.folder)
        except ReleaseError as exc:
            raise NotFound(f"{exc}\nDownload the release again from your course page.") from None
    except NotFound as exc:
        _state["problem"] = str(exc)
        return Message(str(exc), ok=False)
    except Exception as exc:  # a broken download, a checks.py that fails to load: said, not a traceback
        _state["problem"] = f"the checker could not load the release: {type(exc).__name__}: {exc}"
        return Message(_state["problem"], ok=False)
    spec = checker.assignment
    if assignment is not None and spec.id != assignment:
        _state["problem"] = (f"the release found ({found.folder}) is {spec.id}, not {assignment}: "
                             f"put {assignment}'s release beside this notebook, or pass it: "
                             f"tg.init(\"path/to/{assignment}\")")
        return Message(_state["problem"], ok=False)
    _state["checker"] = checker
    notes = []
    cwd = Path.cwd().resolve()
    if cwd != found.folder and found.folder not in cwd.parents:
        # The notebook is not inside the release (Colab's /content, a zip beside it): its relative
        # paths (data/...) are the release folder's, as when it is opened from there.
        os.chdir(found.folder)
        notes.append(f"working folder is now {found.folder}")
    public = checker.public_checks()
    hidden = checker.release.hidden_checks
    line = (f"{spec.id} v{spec.version}: {len(public)} public checks ready "
            f"({_points(sum(s.points for s in public))} points)")
    if hidden:
        line += f"; {len(hidden)} hidden checks ({_points(sum(s.points for s in hidden))} points) run after submission"
    return Message("\n".join([line, found.how, *notes]))


def _points(value: float) -> str:
    return f"{value:g}"


def _report(questions: list[str] | None, note: str | None = None):
    from tensorgrade.student.display import CheckReport

    checker = _state["checker"]
    if checker is None:
        return CheckReport(assignment=_state.get("assignment") or "", questions=questions or [], note=note)
    hidden: dict[str, tuple[int, float]] = {}
    for spec in checker.release.hidden_checks:
        count, points = hidden.get(spec.question, (0, 0.0))
        hidden[spec.question] = (count + 1, points + spec.points)
    wanted = questions if questions is not None else checker.questions()
    return CheckReport(assignment=checker.assignment.id, questions=wanted,
                       hidden={q: h for q, h in hidden.items() if q in wanted}, note=note)


def _run(question: str | None):
    if under_grader():  # an empty report, so that code reading .results in a checker cell still runs
        from tensorgrade.student.display import CheckReport

        return CheckReport(assignment="", questions=[], note="(checked at grading)")
    return _shown(_checked(question))


def _checked(question: str | None):
    if _state["checker"] is None and _state["problem"] is None:
        init()  # the first cell was skipped: look where init() looks by default
    if _state["checker"] is None:
        return _report(None, note=f"tensorgrade: no checks ran. {_state['problem']}")
    checker = _state["checker"]
    questions = checker.questions()
    if question is not None and question not in questions:
        return _report([], note=f"tensorgrade: {question!r} is not a question of {checker.assignment.id}; "
                                f"its questions are {', '.join(questions)}")
    namespace, files = _namespace()
    report = _report([question] if question is not None else None)
    try:
        results = checker.run(namespace, question, files)
    except Exception as exc:  # the checker's own failure, never the student's code (that is a result)
        report.note = f"tensorgrade: the checker failed ({type(exc).__name__}: {exc}); grading is not affected"
        return report
    from tensorgrade.reports.diagnoses import explain

    for result in results:
        row = {"id": result.id, "question": result.question, "status": result.status, "points": result.points,
               "max_points": result.max_points, "message": result.message, "diagnosis": result.diagnosis}
        described = explain(result.diagnosis)
        if described:
            sentence = described["explanation"]
            row["explanation"] = described["title"] + (f": {sentence}" if sentence else "")
        report.results.append(row)
    return report


def _shown(shown):
    """In a script a returned value is not displayed: print it (a notebook and a REPL show it)."""
    if _shell() is None and not hasattr(sys, "ps1"):
        print(shown)
    return shown


def check(question: str):
    """Run one question's public checks on this kernel's definitions; shows the result (HTML in a
    notebook, text elsewhere) and returns it: `.results` lists each check's id, status, points,
    max_points, message and diagnosis."""
    return _run(question)


def check_all():
    """Every question's public checks, as `check`; `.results` holds every public check."""
    return _run(None)
