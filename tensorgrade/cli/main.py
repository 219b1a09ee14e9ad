"""The `tensorgrade` command: its arguments, and which module runs each subcommand."""

from __future__ import annotations

import argparse
import sys

from tensorgrade.cli.authoring import add_parsers as add_authoring_parsers
from tensorgrade.cli.classroom import (cmd_cluster, cmd_export, cmd_gradescope, cmd_gradescope_run, cmd_override,
                                       cmd_report)
from tensorgrade.cli.course import cmd_check, cmd_release, cmd_split
from tensorgrade.cli.doctor import cmd_doctor
from tensorgrade.cli.grade import cmd_grade


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tensorgrade", description="tensorgrade: sandboxed grading for deep-learning courses")
    sub = parser.add_subparsers(dest="command", required=True)

    grade = sub.add_parser("grade", help="grade submissions of one assignment")
    grade.add_argument("assignment", help="the assignment folder (assignments/<id>)")
    grade.add_argument("submissions", nargs="+", help="notebooks, or folders of notebooks")
    grade.add_argument("--json", metavar="FILE", help="write the results as a JSON array")
    grade.add_argument("--solutions", metavar="DIR", help="the solutions folder (default: solutions/<id> beside assignments/)")
    grade.add_argument("-j", "--jobs", type=int, default=None,
                       help="parallel sandboxed workers (default: the number of cores)")
    grade.add_argument("--gradebook", metavar="DB", help="record every result in this SQLite gradebook; unchanged "
                       "submissions (same file, same assignment) are skipped, a killed run resumes")
    grade.add_argument("--force", action="store_true", help="regrade submissions the gradebook already has")
    grade.add_argument("--details", action="store_true", help="in a batch, print each submission's checks too")
    grade.add_argument("--dry-run", action="store_true", help="list the students and files found; grade nothing")
    grade.add_argument("--executor", choices=["local", "dask"], default="local",
                       help="local sandboxed workers, or the workers of a Dask cluster")
    grade.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address, for --executor dask")
    grade.set_defaults(func=cmd_grade)

    doctor = sub.add_parser("doctor", help="which isolation layers work on this machine")
    doctor.set_defaults(func=cmd_doctor)

    cluster = sub.add_parser("cluster", help="start a local Dask cluster, or print a SLURM recipe")
    cluster.add_argument("mode", choices=["local", "slurm"])
    cluster.add_argument("-n", "--workers", type=int, default=2, help="worker processes (local)")
    cluster.add_argument("--port", type=int, default=8786, help="scheduler port (local)")
    cluster.set_defaults(func=cmd_cluster)

    release = sub.add_parser("release", help="validate assignments and write their student releases")
    release.add_argument("assignments", nargs="+", help="assignment folders (assignments/<id>)")
    release.add_argument("--out", default="release", help="where release/<id>/ and <id>.zip go (default: release)")
    release.add_argument("--solutions", metavar="DIR", help="the solutions folder (default: solutions/<id>)")
    release.add_argument("-j", "--jobs", type=int, default=1, help="parallel sandboxed workers")
    release.set_defaults(func=cmd_release)

    check = sub.add_parser("check", help="run a released assignment's public checks on your notebook")
    check.add_argument("notebook", help="your notebook, in (or below) the released assignment folder")
    check.add_argument("--release", metavar="DIR", help="the released assignment folder (default: found from the notebook)")
    check.add_argument("--no-html", action="store_true", help="do not write <notebook>.report.html beside it")
    check.set_defaults(func=cmd_check)

    report = sub.add_parser("report", help="students' reports (HTML, Markdown) and the class dashboard")
    report.add_argument("source", help="the gradebook (grades.db), or a results file from `grade --json`")
    report.add_argument("--assignment", required=True, metavar="ID",
                        help="the assignment id, or its folder (assignments/<id>) as `grade` takes it")
    report.add_argument("--out", default="reports", help="where the reports go (default: reports)")
    report.add_argument("--assignment-dir", metavar="DIR",
                        help="the assignment folder, for question titles and mistake explanations "
                             "(default: assignments/<id>, if present)")
    report.add_argument("--solutions", metavar="DIR", help="the solutions folder (default: solutions/<id>)")
    report.set_defaults(func=cmd_report)

    add_authoring_parsers(sub)

    split = sub.add_parser("split", help="deprecated: runs `tensorgrade import nbgrader` (same arguments)")
    split.add_argument("source", help="the source notebook (### BEGIN SOLUTION regions, nbgrader test cells)")
    split.add_argument("--id", required=True, help="the new assignment's id (lower-case letters, digits, _)")
    split.add_argument("--root", default=".", help="the course folder holding assignments/ and solutions/")
    split.add_argument("--version", default="1.0", help="the assignment's version (default 1.0)")
    split.add_argument("--force", action="store_true", help="overwrite an existing assignment of that id")
    split.set_defaults(func=cmd_split)

    export = sub.add_parser("export", help="grades from the gradebook as CSV, Canvas import CSV or Gradescope results")
    export.add_argument("gradebook", help="the gradebook (grades.db)")
    export.add_argument("--assignment", required=True, metavar="ID", help="the assignment id")
    export.add_argument("--format", choices=["csv", "canvas", "gradescope"], default="csv",
                        help="csv: a row per student, a column per question; canvas: Canvas gradebook import; "
                             "gradescope: OUT/<student>/results.json")
    export.add_argument("--out", required=True, help="the file to write (a folder for --format gradescope)")
    export.add_argument("--roster", metavar="CSV", help="canvas: a Canvas gradebook export, for names, ids, sections")
    export.add_argument("--column", metavar="NAME", help="canvas: the assignment column, as Canvas names it "
                        "(e.g. 'A2 autograd (123456)'; default: the assignment id)")
    export.set_defaults(func=cmd_export)

    override = sub.add_parser("override", help="set a student's points on one check (kept through regrades)")
    override.add_argument("gradebook", help="the gradebook (grades.db)")
    override.add_argument("--student", required=True, help="the student id, as the gradebook has it")
    override.add_argument("--check", required=True, help="the check id, e.g. q3.final_loss")
    override.add_argument("--points", type=float, help="the points to give, 0 to the check's maximum")
    override.add_argument("--comment", help="why (shown with the override in reports and exports)")
    override.add_argument("--assignment", metavar="ID", help="needed only if the student has several assignments")
    override.add_argument("--remove", action="store_true", help="remove the override: the autograder's points again")
    override.set_defaults(func=cmd_override)

    gradescope = sub.add_parser("gradescope", help="build a Gradescope autograder zip for an assignment")
    gradescope.add_argument("assignment", help="the assignment folder (assignments/<id>)")
    gradescope.add_argument("--out", default="autograder.zip", help="the zip to write (default: autograder.zip)")
    gradescope.add_argument("--solutions", metavar="DIR", help="the solutions folder (default: solutions/<id>)")
    gradescope.set_defaults(func=cmd_gradescope)

    gradescope_run = sub.add_parser("gradescope-run", help="grade one Gradescope submission (run by run_autograder)")
    gradescope_run.add_argument("assignment", help="the assignment folder")
    gradescope_run.add_argument("--solutions", metavar="DIR", help="the solutions folder")
    gradescope_run.add_argument("--submission", default="/autograder/submission", help="the student's upload folder")
    gradescope_run.add_argument("--results", default="/autograder/results/results.json", help="results.json to write")
    gradescope_run.set_defaults(func=cmd_gradescope_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
