"""The class: the TA dashboard, every student's report written to a folder, and reading the results."""

from __future__ import annotations

import json
import statistics
from html import escape as html_escape
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable

from tensorgrade.grading.results import CheckResult, SubmissionResult
from tensorgrade.reports.diagnoses import explain
from tensorgrade.reports.formatting import format_points, score_class, shown_score
from tensorgrade.reports.plots import histogram_plot
from tensorgrade.reports.render import environment, failure_page, render_view, write_text
from tensorgrade.reports.paths import class_root
from tensorgrade.reports.view import check_spec, failure_reason, main_failure, notebook_sources, report_view
from tensorgrade.safe_text import file_names


# ---------------------------------------------------------------------------------------------
# The class dashboard and `tensorgrade report`
# ---------------------------------------------------------------------------------------------

def dashboard_view(entries: list[tuple[str, SubmissionResult]], assignment=None,
                   links: dict[str, dict[str, str]] | None = None, failures: list[dict] | None = None,
                   histogram: bool = True) -> dict:
    """The dashboard's view of the class. `failures`: the reports (or parts) that could not be
    rendered, as write_reports records them ({student, what, reason, link}), listed and marked."""
    failures = list(failures or [])
    links = links or {}
    results = [r for _, r in entries]
    graded = [(s, r) for s, r in entries if r.status == "graded"]
    scores = [r.score for _, r in graded]
    max_score = max([r.max_score for r in results if r.max_score] or [getattr(assignment, "max_score", 0.0) or 0.0])
    # Checks, in the assignment's order, then any the assignment does not list.
    order = [spec.id for spec in getattr(assignment, "checks", None) or []]
    info: dict[str, CheckResult] = {}
    for result in results:
        for check in result.checks:
            info.setdefault(check.id, check)
            if check.id not in order:
                order.append(check.id)
    per_check = []
    diagnosis_students: dict[str, set] = defaultdict(set)
    diagnosis_checks: dict[str, Counter] = defaultdict(Counter)
    for check_id in order:
        outcomes = [c for _, r in graded for c in r.checks if c.id == check_id]
        if not outcomes:
            continue
        passed = sum(1 for c in outcomes if c.status == "passed")
        statuses = Counter(c.status for c in outcomes)
        diagnoses = Counter(c.diagnosis for c in outcomes if c.status != "passed" and c.diagnosis)
        spec = check_spec(assignment, check_id)
        reference = info[check_id]
        rate = 100.0 * passed / len(outcomes)
        per_check.append({"id": check_id, "visibility": reference.visibility,
                          "points": format_points(reference.max_points), "passed": passed, "count": len(outcomes),
                          "rate": round(rate), "rate_class": "full" if rate >= 90 else ("good" if rate >= 60 else "low"),
                          "errors": statuses.get("error", 0), "timeouts": statuses.get("timeout", 0),
                          "awaiting": statuses.get("manual", 0),  # manual questions not yet graded by a TA
                          "overridden": sum(1 for c in outcomes if _overridden(c)),
                          "mean_points": format_points(statistics.fmean(c.points for c in outcomes)),
                          "description": spec.description if spec is not None else "",
                          "top_diagnoses": [{"name": n, "count": k} for n, k in diagnoses.most_common(3)]})
    for student, result in graded:
        for check in result.checks:
            if check.status != "passed" and check.diagnosis:
                diagnosis_students[check.diagnosis].add(student)
                diagnosis_checks[check.diagnosis][check.id] += 1
    common = []
    for name, counter in sorted(diagnosis_checks.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        common.append({**explain(name, assignment), "count": sum(counter.values()),
                       "students": len(diagnosis_students[name]),
                       "checks": [{"id": c, "count": k} for c, k in counter.most_common()]})
    integrity = [{"student": s, "findings": list(r.integrity), "link": links.get(s, {}).get("ta")}
                 for s, r in entries if r.integrity]
    # A crashed submission shows its main failure: one that could not be graded (invalid) or that the
    # grader failed on (error), and a notebook whose cells failed or reached their time limit.
    crashed = {s: main_failure(r) for s, r in entries}
    problems = [{"student": s, "status": r.status, "reason": crashed[s] or r.error or "",
                 "link": links.get(s, {}).get("ta")} for s, r in entries if r.status != "graded"]
    for student, result in graded:
        stopped = [c for c in result.cells if c.status in ("error", "timeout")]
        if stopped:
            kinds = {c.status for c in stopped}
            problems.append({"student": student,
                             "status": "cell timeout" if kinds == {"timeout"} else "cell error",
                             "reason": crashed[student], "link": links.get(student, {}).get("ta")})
    slowest = sorted(entries, key=lambda e: -float(e[1].timing.get("total", 0.0) or 0.0))[:10]
    slow_rows = [{"student": s, "total": f"{r.timing.get('total', 0.0):.2f}",
                  "execution": f"{r.timing.get('execution', 0.0):.2f}", "cells": f"{r.timing.get('cells', 0.0):.2f}",
                  "checks": f"{r.timing.get('checks', 0.0):.2f}", "status": r.status,
                  "link": links.get(s, {}).get("ta")} for s, r in slowest]
    missing_layers = Counter(name for r in results for name, layer in r.isolation.items() if not layer.get("active"))
    students = []
    for student, result in entries:
        diagnoses = sorted({c.diagnosis for c in result.checks if c.status != "passed" and c.diagnosis})
        percent = 100.0 * result.score / result.max_score if result.max_score else 0.0
        # A grader error: a dash beside its "error" chip (the class's mean, median, histogram and
        # per-check rates count graded submissions only).
        students.append({"student": student, "status": result.status, "score": shown_score(result),
                         "max": format_points(result.max_score), "percent": round(percent),
                         "grade_class": score_class(result, percent),
                         "diagnoses": diagnoses, "integrity": len(result.integrity),
                         "failure": crashed[student],
                         "overridden": [c.id for c in result.checks if _overridden(c)],
                         "links": {"html": None, "md": None, "ta": None, **links.get(student, {})}})
    failed_students = Counter(f["student"] for f in failures)
    for row in students:
        row["render_failures"] = failed_students.get(row["student"], 0)
    histogram_image, histogram_error = None, None
    if histogram:
        try:
            histogram_image = histogram_plot(scores, max_score)
        except Exception as exc:  # noqa: BLE001 (the plot is said to have failed; the dashboard stands)
            histogram_error = failure_reason(exc)
    return {
        "assignment_id": getattr(assignment, "id", None) or (results[0].assignment if results else ""),
        "assignment_title": getattr(assignment, "title", "") or (results[0].assignment if results else ""),
        "version": getattr(assignment, "version", None) or (results[0].version if results else ""),
        "count": len(entries), "graded": len(graded), "max_score": format_points(max_score),
        "mean": f"{statistics.fmean(scores):.2f}".rstrip("0").rstrip(".") if scores else "–",
        "median": format_points(statistics.median(scores)) if scores else "–",
        "full_marks": sum(1 for s in scores if s >= max_score - 1e-9) if scores else 0,
        "histogram": histogram_image, "histogram_error": histogram_error,
        "render_failures": failures,
        "checks": per_check, "diagnoses": common, "integrity": integrity, "problems": problems,
        "slowest": slow_rows, "missing_layers": [{"layer": n, "count": k} for n, k in missing_layers.most_common()],
        "students": students,
        "overrides": sum(len(row["overridden"]) for row in students),
    }


def _overridden(check: CheckResult) -> bool:
    return isinstance(check.details, dict) and isinstance(check.details.get("override"), dict)


def render_dashboard(entries: list[tuple[str, SubmissionResult]], assignment=None,
                     links: dict[str, dict[str, str]] | None = None, failures: list[dict] | None = None) -> str:
    return environment().get_template("dashboard.html").render(d=dashboard_view(entries, assignment, links, failures))


def report_names(students: Iterable[str]) -> dict[str, str]:
    """Each student's report file name (without suffix), different for different names."""
    return file_names(students)


# The three files of each student: (key in write_reports' answer, folder, suffix, kind, ta, title)
REPORT_FILES = (("students", "students", ".html", "html", False, "report"),
                ("markdown", "students", ".md", "md", False, "Markdown report"),
                ("ta", "ta", ".html", "html", True, "TA view"))


def _write_student(out: Path, name: str, student: str, result: SubmissionResult, assignment,
                   written: dict, failures: list[dict], root: str | Path | None = None) -> None:
    """A student's three files. One that fails to render is replaced by a page that says so (with the
    reason in the TA view), and recorded in `failures`; it never stops the others, or the class."""
    link = f"ta/{name}.html"
    try:
        sources = notebook_sources(result.submission)
    except Exception:  # noqa: BLE001 (the report is still written, without the cells' code)
        sources = {}
    reasons: dict[str, str] = {}
    for key, folder, suffix, kind, ta, title in REPORT_FILES:
        path = out / folder / f"{name}{suffix}"
        try:
            view = report_view(result, assignment, ta=ta, student=student, sources=sources, root=root)
            if ta:
                for problem in view["render_problems"]:
                    failures.append({"student": student, "what": f"{title}: {problem['what']}",
                                     "reason": problem["reason"], "link": link})
                # The TA view also says which of the student's files could not be rendered, and why.
                view["render_problems"] = view["render_problems"] + [
                    {"what": f"the student's {t}", "reason": r} for t, r in reasons.items()]
            text = render_view(view, kind)
        except Exception as exc:  # noqa: BLE001
            reasons[title] = failure_reason(exc)
            failures.append({"student": student, "what": title, "reason": reasons[title], "link": link})
            text = failure_page(student, kind, title=title, reason=reasons[title] if ta else None)
            if ta:
                text = text.replace("</main>", "".join(
                    f"<p class=\"render-failed\">The student's {html_escape(t)} could not be rendered: "
                    f"{html_escape(r)}</p>" for t, r in reasons.items() if t != title) + "</main>", 1)
        try:
            write_text(path, text)
        except OSError as exc:
            failures.append({"student": student, "what": f"{title} (writing {path.name})",
                             "reason": failure_reason(exc), "link": None})
            continue
        written[key][student] = path


def write_reports(entries: list[tuple[str, SubmissionResult]], assignment, out_dir: str | Path,
                  root: str | Path | None = None) -> dict:
    """Every student's report (HTML and Markdown under students/, the TA view under ta/) and the
    class dashboard (dashboard.html); returns the paths written, and under "failed" what could
    not be rendered ({student, what, reason, link}): a report or a part of one (a plot) that
    fails is replaced or marked on the report, listed on the dashboard, and never stops the rest.

    A student's report names their notebook relative to `root`, the submissions root (by default
    the folder all the class's notebooks lie below), and shows no path of the grading machine."""
    if root is None:
        root = class_root(result.submission for _, result in entries)
    out = Path(out_dir)
    (out / "students").mkdir(parents=True, exist_ok=True)
    (out / "ta").mkdir(parents=True, exist_ok=True)
    names = report_names(student for student, _ in entries)
    links: dict[str, dict[str, str]] = {}
    failures: list[dict] = []
    written: dict[str, Any] = {"students": {}, "ta": {}, "markdown": {}, "failed": failures}
    for student, result in entries:
        name = names[student]
        _write_student(out, name, student, result, assignment, written, failures, root)
        links[student] = {"html": f"students/{name}.html", "md": f"students/{name}.md", "ta": f"ta/{name}.html"}
    # A result the dashboard cannot take (each tried alone, without the histogram) is left out of
    # its tables and listed as a failure, with the links to what was written for it.
    counted = []
    for student, result in entries:
        try:
            dashboard_view([(student, result)], assignment, links, histogram=False)
            counted.append((student, result))
        except Exception as exc:  # noqa: BLE001
            failures.append({"student": student, "what": "dashboard row", "reason": failure_reason(exc),
                             "link": links[student]["ta"]})
    dashboard = out / "dashboard.html"
    try:
        page = render_dashboard(counted, assignment, links, failures)
    except Exception as exc:  # noqa: BLE001
        failures.append({"student": "(the class)", "what": "dashboard", "reason": failure_reason(exc), "link": None})
        page = _fallback_dashboard(entries, links, failures)
    write_text(dashboard, page)
    written["dashboard"] = dashboard
    return written


def _fallback_dashboard(entries, links: dict[str, dict[str, str]], failures: list[dict]) -> str:
    """The dashboard when its template cannot be rendered: every student's links and every failure."""
    rows = "".join(f"<li>{html_escape(str(s))}: <a href=\"{links[s]['html']}\">report</a> · "
                   f"<a href=\"{links[s]['md']}\">md</a> · <a href=\"{links[s]['ta']}\">TA view</a></li>"
                   for s, _ in entries)
    failed = "".join(f"<li class=\"warn\">{html_escape(str(f['student']))}: {html_escape(f['what'])} could not be "
                     f"rendered: {html_escape(f['reason'])}</li>" for f in failures)
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>class dashboard "
            "(not rendered)</title>\n</head>\n<body>\n<main><h1>Class dashboard</h1>\n"
            f"<section id=\"render-failures\"><h2>Could not be rendered</h2><ul>{failed}</ul></section>\n"
            f"<section id=\"students\"><h2>Students</h2><ul>{rows}</ul></section></main>\n</body>\n</html>\n")


def load_entries(source: str | Path, assignment_id: str | None = None) -> list[tuple[str, SubmissionResult]]:
    """(student, result) pairs from a gradebook database, or from a `grade --json` file."""
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"{source}: not found")
    if source.suffix == ".json":
        data = json.loads(source.read_text())
        if isinstance(data, dict):
            data = [data]
        results = [SubmissionResult.from_json(item) for item in data]
        if assignment_id:
            results = [r for r in results if r.assignment == assignment_id]
        names = [r.student or Path(r.submission).stem for r in results]
        return list(zip(names, results))
    from tensorgrade.classroom.gradebook import Gradebook  # the batch engineer's gradebook (sqlite)

    if not assignment_id:
        raise ValueError("--assignment is needed to read a gradebook")
    return list(Gradebook(source).results(assignment_id))
