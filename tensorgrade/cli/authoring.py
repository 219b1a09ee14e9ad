"""The authoring commands: `new` (a working source to start from), `build` (source -> generated
files, validated in the sandbox), `thresholds` (thresholds derived from the reference), `import`
(an nbgrader or otter-grader notebook -> a source, built: course/importers/).

Every error names the source file, its cell and line where it has one, and is printed without a
traceback; paths and source-derived text go through `safe`/`for_rich_markup`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tensorgrade.cli.output import make_console, safe, soft_printer
from tensorgrade.safe_text import for_rich_markup


def source_of(name: str, root: str) -> Path:
    """An assignment's source from a path to it, or from its id under the course root."""
    path = Path(name)
    if path.suffix == ".py":
        return path
    return Path(root) / "solutions" / path.name / f"{path.name}.py"


def cmd_new(args: argparse.Namespace) -> int:
    from tensorgrade.course.errors import AuthoringError
    from tensorgrade.course.scaffold import write_new_assignment

    say = soft_printer(make_console())
    try:
        path = write_new_assignment(args.id, Path(args.root), force=args.force)
    except AuthoringError as exc:
        say(f"[red]error:[/red] {for_rich_markup(exc)}")
        return 2
    say(f"wrote {safe(path)}: open it as a notebook (VS Code, or Jupyter with jupytext) and edit it")
    say(f"next: tensorgrade thresholds {safe(path)}   (then: tensorgrade build {safe(path)} --validate)")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from tensorgrade.course.build import build, validate
    from tensorgrade.course.errors import AuthoringError

    say = soft_printer(make_console())
    failed = 0
    for name in args.sources:
        path = source_of(name, args.root)
        try:
            outcome = build(path, check=args.check)
            problems = validate(path, jobs=args.jobs) if args.validate and not args.check else []
        except AuthoringError as exc:
            say(f"[red]error:[/red] {for_rich_markup(exc)}")
            failed += 1
            continue
        if args.check:
            for stale in outcome.stale:
                say(f"[red]out of date:[/red] {safe(stale)} (run `tensorgrade build {safe(path)}`)")
            failed += bool(outcome.stale)
            if not outcome.stale:
                say(f"{safe(path)}: every generated file is up to date")
            continue
        say(f"{safe(path)}: built ({len(outcome.written)} file(s) changed)")
        for note in outcome.notes:
            say(f"  [yellow]note:[/yellow] {for_rich_markup(note)}")
        for problem in problems:
            warning = problem.startswith("warning:")
            say(f"  [{'yellow' if warning else 'red'}]{'warning' if warning else 'FAILED'}:[/] "
                f"{for_rich_markup(problem.removeprefix('warning: '))}")
            failed += not warning
        if args.validate and not problems:
            say("  validated: the reference scores full, every mistake shows, every sample gets what it declares")
    return 1 if failed else 0


def cmd_thresholds(args: argparse.Namespace) -> int:
    from tensorgrade.course.errors import AuthoringError
    from tensorgrade.course.thresholds import compute_thresholds

    say = soft_printer(make_console())
    path = source_of(args.source, args.root)
    try:
        computed = compute_thresholds(path, jobs=args.jobs)
    except AuthoringError as exc:
        say(f"[red]error:[/red] {for_rich_markup(exc)}")
        return 2
    if not computed:
        say(f"{safe(path)}: no check declares a threshold `from_reference(...)`")
    for item in computed:
        say(f"{safe(item.check)}: {item.value:.6g} ({item.declared['reduce']} of {len(item.measures)} reference runs "
            f"{min(item.measures):.4g}..{max(item.measures):.4g}, times {item.declared['times']:g} "
            f"plus {item.declared['plus']:g})")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """`tensorgrade import nbgrader|otter NOTEBOOK --id ID`: another grader's notebook -> our source, built."""
    from tensorgrade.course.errors import AuthoringError

    if args.tool == "otter":
        from tensorgrade.course.importers.otter import import_otter as run, summary
    else:
        from tensorgrade.course.importers.nbgrader import import_nbgrader as run, summary
    say = soft_printer(make_console())
    try:
        outcome = run(args.notebook, args.id, root=args.root, force=args.force,
                      **({"version": args.version} if getattr(args, "version", None) else {}))
    except AuthoringError as exc:
        say(f"[red]error:[/red] {for_rich_markup(exc)}")
        return 2
    for line in summary(outcome):
        say(for_rich_markup(line))
    say(f"next: tensorgrade build {safe(outcome.source)} --validate")
    return 0


def add_parsers(sub) -> None:
    new = sub.add_parser("new", help="write a working single-source assignment to start from")
    new.add_argument("id", help="the new assignment's id (lower-case letters, digits, _)")
    new.add_argument("--root", default=".", help="the course folder holding assignments/ and solutions/ (default .)")
    new.add_argument("--force", action="store_true", help="overwrite an existing source of that id")
    new.set_defaults(func=cmd_new)

    build = sub.add_parser("build", help="generate an assignment's template, spec, public checks, reference and "
                                         "samples from its source")
    build.add_argument("sources", nargs="+", help="sources (solutions/<id>/<id>.py) or assignment ids")
    build.add_argument("--root", default=".", help="the course folder, for ids (default .)")
    build.add_argument("--check", action="store_true", help="write nothing; fail if a generated file is out of date")
    build.add_argument("--validate", action="store_true", help="then grade the reference, mistakes and samples "
                                                               "in the sandbox")
    build.add_argument("-j", "--jobs", type=int, default=2, help="parallel sandboxed workers for --validate")
    build.set_defaults(func=cmd_build)

    thresholds = sub.add_parser("thresholds", help="compute the thresholds a source derives from its reference")
    thresholds.add_argument("source", help="the source (solutions/<id>/<id>.py) or the assignment id")
    thresholds.add_argument("--root", default=".", help="the course folder, for an id (default .)")
    thresholds.add_argument("-j", "--jobs", type=int, default=2, help="parallel sandboxed workers")
    thresholds.set_defaults(func=cmd_thresholds)

    imported = sub.add_parser("import", help="import an nbgrader source notebook or an otter-grader master notebook "
                                             "as a single-source assignment, built")
    imported.add_argument("tool", choices=["nbgrader", "otter"], help="the grader the notebook was written for")
    imported.add_argument("notebook", help="nbgrader: the source notebook (with solutions); otter: the master notebook")
    imported.add_argument("--id", required=True, help="the assignment's id (lower-case letters, digits, _)")
    imported.add_argument("--root", default=".", help="the course folder holding assignments/ and solutions/ (default .)")
    imported.add_argument("--force", action="store_true", help="replace an existing assignment of that id")
    imported.set_defaults(func=cmd_import)
