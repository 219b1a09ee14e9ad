"""tensorgrade: a sandboxed grader for deep-learning courses: probe inside the sandbox, judge outside.

The subpackages, in the order a submission meets them:

    submission/        reading what a student handed in (a notebook, or why it cannot be graded)
    sandbox/host/      grader side: isolation layers, warm workers, job in -> execution record out
    sandbox/inside/    runs inside the sandbox: worker, supervisor, the student's kernel, integrity
    sandbox/protocol   the typed messages between the student's process and its supervisor
    sandbox/transport  the only data format that crosses the boundary
    checking/inside/   probe helpers: run in the sandbox on the student's namespace, return plain data
    checking/outside/  judges: plain data in, verdicts and messages out
    grading/           one submission: job -> record -> verdicts -> score (the result)
    course/            an assignment: spec, authoring, offline data, the release gate
    classroom/         many submissions: discovery, batch, gradebook, exports, Dask
    reports/           what people read: student reports, the terminal, the TA dashboard
    cli/               the `tensorgrade` command
    student/           the checker in a student's notebook (tg.init, tg.check): the public checks on the live kernel

    safe_text          student-derived text made harmless where a person reads it (terminal,
                       Markdown, spreadsheet cells, file names): used by reports/, cli/, classroom/
"""

from pathlib import Path

__version__ = "0.1.0"


def package_dir() -> Path:
    """This package's folder (the sandbox binds it read-only; the Gradescope zip copies it)."""
    return Path(__file__).resolve().parent
