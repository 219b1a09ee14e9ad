"""The class: the TA dashboard, every student's report written to a folder, and reading the results."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable

from tensorgrade.grading.results import CheckResult, SubmissionResult
from tensorgrade.reports.diagnoses import explain
from tensorgrade.reports.formatting import format_points, safe_name
from tensorgrade.reports.plots import histogram_plot
from tensorgrade.reports.render import environment, render_html, render_markdown
from tensorgrade.reports.view import check_spec, notebook_sources


# ---------------------------------------------------------------------------------------------
# The class dashboard and `tensorgrade report`
# ---------------------------------------------------------------------------------------------

def dashboard_view(entries: list[tuple[str, SubmissionResult]], assignment=None,
                   links: dict[str, dict[str, str]] | None = None) -> dict:
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
    problems = [{"student": s, "status": r.status, "reason": r.error or "", "link": links.get(s, {}).get("ta")}
                for s, r in entries if r.status != "graded"]
    for student, result in graded:
        stuck = [c for c in result.cells if c.status == "timeout"]
        if stuck:
            problems.append({"student": student, "status": "cell timeout",
                             "reason": "; ".join(f"cell {c.index}: {_first_line(c.error) or 'time limit reached'}"
                                                 for c in stuck),
                             "link": links.get(student, {}).get("ta")})
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
        students.append({"student": student, "status": result.status, "score": format_points(result.score),
                         "max": format_points(result.max_score), "percent": round(percent),
                         "grade_class": "full" if percent >= 99.99 else ("good" if percent >= 60 else "low"),
                         "diagnoses": diagnoses, "integrity": len(result.integrity),
                         "links": {"html": None, "md": None, "ta": None, **links.get(student, {})}})
    return {
        "assignment_id": getattr(assignment, "id", None) or (results[0].assignment if results else ""),
        "assignment_title": getattr(assignment, "title", "") or (results[0].assignment if results else ""),
        "version": getattr(assignment, "version", None) or (results[0].version if results else ""),
        "count": len(entries), "graded": len(graded), "max_score": format_points(max_score),
        "mean": f"{statistics.fmean(scores):.2f}".rstrip("0").rstrip(".") if scores else "–",
        "median": format_points(statistics.median(scores)) if scores else "–",
        "full_marks": sum(1 for s in scores if s >= max_score - 1e-9) if scores else 0,
        "histogram": histogram_plot(scores, max_score),
        "checks": per_check, "diagnoses": common, "integrity": integrity, "problems": problems,
        "slowest": slow_rows, "missing_layers": [{"layer": n, "count": k} for n, k in missing_layers.most_common()],
        "students": students,
    }


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[-1] if (text or "").strip() else ""


def render_dashboard(entries: list[tuple[str, SubmissionResult]], assignment=None,
                     links: dict[str, dict[str, str]] | None = None) -> str:
    return environment().get_template("dashboard.html").render(d=dashboard_view(entries, assignment, links))


def _unique_names(students: Iterable[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    used: set[str] = set()
    for student in students:
        base = safe_name(student)
        name, n = base, 2
        while name.lower() in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name.lower())
        names[student] = name
    return names


def write_reports(entries: list[tuple[str, SubmissionResult]], assignment, out_dir: str | Path) -> dict:
    """Every student's report (HTML and Markdown under students/, the TA view under ta/) and the
    class dashboard (dashboard.html); returns the paths written."""
    out = Path(out_dir)
    (out / "students").mkdir(parents=True, exist_ok=True)
    (out / "ta").mkdir(parents=True, exist_ok=True)
    names = _unique_names(student for student, _ in entries)
    links: dict[str, dict[str, str]] = {}
    written: dict[str, Any] = {"students": {}, "ta": {}, "markdown": {}}
    for student, result in entries:
        name = names[student]
        sources = notebook_sources(result.submission)
        html_path, md_path, ta_path = (out / "students" / f"{name}.html", out / "students" / f"{name}.md",
                                       out / "ta" / f"{name}.html")
        html_path.write_text(render_html(result, assignment, student=student, sources=sources), encoding="utf-8")
        md_path.write_text(render_markdown(result, assignment, student=student, sources=sources), encoding="utf-8")
        ta_path.write_text(render_html(result, assignment, ta=True, student=student, sources=sources),
                           encoding="utf-8")
        written["students"][student], written["markdown"][student], written["ta"][student] = html_path, md_path, ta_path
        links[student] = {"html": f"students/{name}.html", "md": f"students/{name}.md", "ta": f"ta/{name}.html"}
    dashboard = out / "dashboard.html"
    dashboard.write_text(render_dashboard(entries, assignment, links), encoding="utf-8")
    written["dashboard"] = dashboard
    return written


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
