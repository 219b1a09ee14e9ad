"""The view model of one result: everything a report shows, and only that.

Everything a report shows goes through one *view* of the result (`report_view`), built here in
Python: that is where hidden checks are reduced to their id, points and passed/failed, and where
integrity findings and isolation are kept for the TA view (`ta=True`). The templates
(`tensorgrade/reports/templates/`, Jinja2 with autoescape for HTML) only render that view, so a template
cannot leak what the view does not hold.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from tensorgrade.grading.results import CheckResult, SubmissionResult
from tensorgrade.reports.diagnoses import explain
from tensorgrade.reports.formatting import format_points, format_value, score_class, shown_score
from tensorgrade.reports.paths import for_student
from tensorgrade.reports.plots import curve_summary, loss_curve_plot
from tensorgrade.safe_text import for_terminal


# ---------------------------------------------------------------------------------------------
# The view of one result: the only thing the templates see
# ---------------------------------------------------------------------------------------------

STATUS_LABEL = {"passed": "passed", "failed": "failed", "error": "error", "timeout": "timeout",
                "manual": "awaiting a TA's grade"}  # manual: vocabulary_manual, until an override
CELL_REFERENCE = re.compile(r"cell (\d+), line (\d+)")


def notebook_sources(path: str | Path | None) -> dict[int, str]:
    """The cells' sources of a notebook, by index among all its cells; {} when it cannot be read.
    `path` may be a zip member's label, `archive.zip:member` (what a class graded from a zip records)."""
    if not path:
        return {}
    try:
        data = json.loads(_notebook_text(str(path)))
        cells = data["cells"]
        out = {}
        for index, cell in enumerate(cells):
            source = cell.get("source", "")
            out[index] = "".join(source) if isinstance(source, list) else str(source)
        return out
    except Exception:
        return {}


MAX_NOTEBOOK_BYTES = 50_000_000


def _notebook_text(path: str) -> str:
    if not Path(path).is_file() and ".zip:" in path:
        import zipfile

        archive, member = path.split(".zip:", 1)
        with zipfile.ZipFile(archive + ".zip") as opened:
            info = opened.getinfo(member)
            if info.file_size > MAX_NOTEBOOK_BYTES:
                raise ValueError("too large")
            return opened.read(info).decode("utf-8")
    if Path(path).stat().st_size > MAX_NOTEBOOK_BYTES:
        raise ValueError("too large")
    return Path(path).read_text(encoding="utf-8")


def _cell_view(index: int, line: int | None, sources: dict[int, str], context: int = 6) -> dict:
    source = sources.get(index)
    view = {"index": index, "line": line, "lines": []}
    if source is None:
        return view
    lines = source.splitlines() or [""]
    if line is None or len(lines) <= 2 * context + 8:
        first, last = 1, len(lines)
    else:
        first, last = max(1, line - context), min(len(lines), line + context)
    view["lines"] = [{"number": n, "text": lines[n - 1], "failing": n == line} for n in range(first, last + 1)]
    view["cut_before"], view["cut_after"] = first > 1, last < len(lines)
    return view


def _comparisons(details: dict) -> list[dict]:
    rows = []
    if "got" in details and "expected" in details:
        rows.append({"what": "value", "expected": format_value(details["expected"]),
                     "got": format_value(details["got"])})
    for key in details:
        if key.startswith("got_") and f"expected_{key[4:]}" in details:
            rows.append({"what": key[4:].replace("_", " "), "expected": format_value(details[f"expected_{key[4:]}"]),
                         "got": format_value(details[key])})
    return rows


def _mismatches(details: dict) -> list[dict]:
    rows = []
    for entry in details.get("mismatches") or []:
        if not isinstance(entry, dict):
            continue
        got, expected = entry.get("got"), entry.get("expected")
        ratio = ""
        if isinstance(got, (int, float)) and isinstance(expected, (int, float)) and abs(expected) > 1e-12 \
                and math.isfinite(got):
            ratio = f"{got / expected:.3g}"
        rows.append({"index": str(entry.get("index", "")), "got": format_value(got), "expected": format_value(expected),
                     "ratio": ratio})
    return rows


def _split_message(message: str) -> tuple[str, str, str]:
    """(first line, further lines, traceback) of a check's message."""
    text = (message or "").replace("\r\n", "\n").strip("\n")
    lines = text.split("\n")  # not splitlines(): a lone CR (or \x1c, U+2028) of the student's stays in its line
    if not lines:
        return "", "", ""
    rest = "\n".join(lines[1:])
    at = rest.find("Traceback (most recent call last")
    if at >= 0:
        return lines[0], rest[:at].strip("\n"), rest[at:].strip("\n")
    return lines[0], rest, ""


def autograder_status(check: CheckResult) -> str:
    """The status the autograder gave a check: a TA's override changes its points and status, not
    what the student's code did (an error stays a crash of theirs)."""
    override = check.details.get("override") if isinstance(check.details, dict) else None
    status = override.get("autograder_status") if isinstance(override, dict) else None
    return status if status in ("passed", "failed", "error", "timeout", "manual") else check.status


def autograder_message(check: CheckResult) -> str:
    """The check's message as the autograder wrote it, without the "TA override: ..." line
    `gradebook.apply_overrides` adds."""
    message = check.message or ""
    if isinstance(check.details, dict) and isinstance(check.details.get("override"), dict):
        message = "\n".join(line for line in message.split("\n") if not line.startswith("TA override: "))
    return message


def _override_view(details: dict, redacted: bool) -> dict | None:
    """A TA's override of a check (gradebook.apply_overrides puts it in details["override"]): the
    points given, and the autograder's; the TA's comment where the check is not redacted."""
    override = details.get("override") if isinstance(details, dict) else None
    if not isinstance(override, dict):
        return None

    def points(value) -> str:
        return format_points(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else "?"

    status = str(override.get("autograder_status") or "")
    view = {"points": points(override.get("points")), "autograder_points": points(override.get("autograder_points")),
            "autograder_status": ("passed" if status == "passed" else "failed") if redacted else status,
            "comment": ""}
    if not redacted:
        view["comment"] = str(override.get("comment") or "")
    return view


def _check_view(check: CheckResult, assignment, ta: bool, sources: dict[int, str], plots: bool = True) -> dict:
    hidden = check.visibility == "hidden"
    details = check.details or {}
    view = {"id": check.id, "question": check.question, "hidden": hidden,
            "points": format_points(check.points), "max_points": format_points(check.max_points),
            "points_value": check.points, "max_value": check.max_points, "failure": None}
    if hidden and not ta:
        # Hidden checks: their id, points and passed/failed (and that a TA set their points); never
        # their message, details, diagnosis, description, inputs or expected values.
        status = check.status if check.status in ("passed", "manual") else "failed"
        return {**view, "status": status, "label": STATUS_LABEL[status], "redacted": True,
                "override": _override_view(details, redacted=True)}
    override = _override_view(details, redacted=False)
    message = autograder_message(check)  # an override is said once, by its own line of the report
    summary, more, traceback = _split_message(message)
    spec = check_spec(assignment, check.id)
    cell = None
    references = CELL_REFERENCE.findall(traceback or message) if autograder_status(check) == "error" else []
    if references:
        index, line = references[-1]
        cell = _cell_view(int(index), int(line), sources)
    plot, plot_notes, plot_error = None, [], None
    if plots:
        try:
            drawn = loss_curve_plot(details)
        except Exception as exc:  # noqa: BLE001 (a plot that fails is said on the report, never stops it)
            plot_error = failure_reason(exc)
        else:
            if drawn is not None:
                plot, plot_notes = drawn
    return {**view, "status": check.status, "label": STATUS_LABEL.get(check.status, check.status),
            "redacted": False, "override": override,
            "description": spec.description if spec is not None else "",
            "summary": summary, "more": more, "traceback": traceback,
            "comparisons": _comparisons(details),
            "mismatches": _mismatches(details), "mismatched": details.get("mismatched"),
            "total": details.get("total"),
            "plot": plot, "plot_notes": plot_notes, "plot_error": plot_error, "curve": curve_summary(details),
            "diagnosis": explain(check.diagnosis, assignment) if check.status not in ("passed", "manual") else None,
            "cell": cell}


# ---------------------------------------------------------------------------------------------
# Where the student's code failed: each failing cell's listing and traceback once per report
# ---------------------------------------------------------------------------------------------

FAILED_CELL = re.compile(r"\bcell (\d+) failed: ")


def _error_line(text: str) -> str:
    """The exception's line of a traceback (the last line that is not the grader's hint)."""
    lines = [line for line in (text or "").strip().split("\n") if line.strip()]
    return next((line for line in reversed(lines) if not line.startswith("[grader]")), "")


def _failures(checks: list[dict], cells, sources: dict[int, str]) -> list[dict]:
    """The places the student's code failed, each once, with what hit it: the cells that failed
    while the notebook ran, and the checks whose call into the student's code raised (grouped by the
    cell and line the exception came from; each distinct traceback once, with the checks that got
    it). Each check view that one broke gets `failure` (its id, number, title and the other checks),
    and its own listing and traceback are dropped: the report shows them once, under the failure."""
    groups: dict[tuple[int, int | None], dict] = {}

    def group(index: int, line: int | None) -> dict:
        if (index, line) not in groups:
            groups[(index, line)] = {**_cell_view(index, line, sources), "tracebacks": [], "blocked": [],
                                     "error": "", "checks": []}
        return groups[(index, line)]

    def traceback_of(found: dict, text: str) -> dict:
        for entry in found["tracebacks"]:
            if entry["text"] == text:
                return entry
        entry = {"text": text, "checks": [], "run": None}
        found["tracebacks"].append(entry)
        found["error"] = found["error"] or _error_line(text)
        return entry

    by_run_cell: dict[int, dict] = {}
    for cell in cells:
        if cell.status not in ("error", "timeout"):
            continue
        error = (cell.error or "").strip("\n")
        references = CELL_REFERENCE.findall(error)
        index, line = (int(references[-1][0]), int(references[-1][1])) if references else (cell.index, None)
        found = group(index, line)
        entry = traceback_of(found, error or cell.status)
        entry["run"] = {"cell": cell.index, "status": cell.status, "output": _tail(cell.output or "", 1500)}
        by_run_cell[cell.index] = found
    referenced: list[tuple[dict, dict]] = []
    for check in checks:
        if check["redacted"]:
            continue
        if check.get("cell") is not None:
            found = group(check["cell"]["index"], check["cell"]["line"])
            entry = traceback_of(found, check["traceback"] or check["summary"])
            entry["checks"].append(check["id"])
            check["cell"], check["traceback"] = None, ""
            referenced.append((check, found))
        elif check["status"] != "passed":
            failed = [int(n) for n in FAILED_CELL.findall(check["summary"] + "\n" + check["more"])]
            found = next((by_run_cell[n] for n in failed if n in by_run_cell), None)
            if found is not None:
                found["blocked"].append(check["id"])
                referenced.append((check, found))
    ordered = sorted(groups.values(), key=lambda g: (g["index"], g["line"] or 0))
    for number, found in enumerate(ordered, 1):
        found["number"], found["id"] = number, f"failure-{number}"
        found["title"] = f"cell {found['index']}" + (f", line {found['line']}" if found["line"] else "")
        found["checks"] = [c for entry in found["tracebacks"] for c in entry["checks"]] + found["blocked"]
        found["run"] = any(entry["run"] for entry in found["tracebacks"])
    for check, found in referenced:
        check["failure"] = {"id": found["id"], "number": found["number"], "title": found["title"],
                            "others": [c for c in found["checks"] if c != check["id"]],
                            "blocked": check["id"] in found["blocked"]}
    return ordered


def main_failure(result: SubmissionResult) -> str | None:
    """A crashed submission's main failure, in a line (for the dashboard): why it could not be
    graded, or the first cell that failed while it ran, or the error most of its checks got when
    they called the student's code; None when nothing crashed."""
    if result.status != "graded":
        lines = [line.strip() for line in (result.error or result.status).strip().split("\n") if line.strip()]
        text = lines[0] if lines else result.status
        if len(lines) > 1 and lines[0].startswith("Traceback"):
            text = _error_line(result.error or "")
        return _cut(text)
    stopped = [cell for cell in result.cells if cell.status in ("error", "timeout")]
    if stopped:
        first = stopped[0]
        what = "failed" if first.status == "error" else "reached its time limit"
        text = f"cell {first.index} {what} while the notebook ran"
        error = _error_line(first.error or "")
        if error and first.status == "error":
            text += f": {error}"
        if len(stopped) > 1:
            text += f" (and {len(stopped) - 1} more cell{'s' if len(stopped) > 2 else ''})"
        return _cut(text)
    raised: dict[tuple[str, str], int] = {}
    for check in result.checks:
        if autograder_status(check) != "error" or check.diagnosis == "not-implemented":
            continue
        message = autograder_message(check)
        references = CELL_REFERENCE.findall(message)
        where = f"cell {references[-1][0]}, line {references[-1][1]}" if references else ""
        key = (where, _error_line(message))
        raised[key] = raised.get(key, 0) + 1
    if not raised:
        return None
    (where, error), count = max(raised.items(), key=lambda kv: kv[1])
    return _cut(f"{count} check{'s' if count != 1 else ''} raised {error}" + (f" ({where})" if where else ""))


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def failure_reason(exc: BaseException, limit: int = 500) -> str:
    """What went wrong, in a line: the exception's type and message (its control characters written
    out, as `safe_text.for_terminal` writes them), cut to `limit` characters."""
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001
        message = ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    text = for_terminal(text).replace("\n", " ").replace("\t", " ")
    return text if len(text) <= limit else text[:limit] + "…"


def check_spec(assignment, check_id: str):
    for spec in getattr(assignment, "checks", None) or []:
        if spec.id == check_id:
            return spec
    return None


def report_view(result: SubmissionResult, assignment=None, *, ta: bool = False, student: str | None = None,
                sources: dict[int, str] | None = None, plots: bool = True, root: str | Path | None = None) -> dict:
    """Everything a report shows of one result. With `ta=False` (the student's report) hidden checks
    are reduced to id, points and passed/failed, integrity and isolation are left out, and no path
    of the grading machine is shown (`paths.for_student`): the submission is named relative to
    `root`, the submissions root (without one, the notebook's own folder)."""
    if sources is None:
        sources = notebook_sources(result.submission)
    if not ta:
        result = for_student(result, root)
    checks = [_check_view(c, assignment, ta, sources, plots) for c in result.checks]
    order = [q.id for q in getattr(assignment, "questions", None) or []]
    for check in result.checks:
        if check.question not in order:
            order.append(check.question)
    titles = {q.id: q.title for q in getattr(assignment, "questions", None) or []}
    # A student's own check (`tensorgrade check`) runs the public checks only: the hidden ones the
    # spec lists still hold points, and the report says how many (per question and in all).
    graded = {c.id for c in result.checks}
    not_run = [spec for spec in getattr(assignment, "checks", None) or []
               if spec.visibility == "hidden" and spec.id not in graded] if result.status == "graded" else []
    questions = []
    for qid in order:
        in_question = [c for c in checks if c["question"] == qid]
        if not in_question:
            continue
        score = sum(c["points_value"] for c in in_question)
        top = sum(c["max_value"] for c in in_question)
        hidden_points = sum(spec.points for spec in not_run if spec.question == qid)
        questions.append({"id": qid, "title": titles.get(qid, ""), "checks": in_question,
                          "score": format_points(score), "max": format_points(top),
                          "hidden_points": format_points(hidden_points) if hidden_points else None,
                          "state": "full" if score >= top - 1e-9 else ("none" if score <= 1e-9 else "part")})
    diagnoses: dict[str, dict] = {}
    for check in checks:
        if check.get("diagnosis"):
            entry = diagnoses.setdefault(check["diagnosis"]["name"], {**check["diagnosis"], "checks": []})
            entry["checks"].append(check["id"])
    failures = _failures(checks, result.cells, sources)
    max_score = result.max_score or sum(c.max_points for c in result.checks)
    percent = 100.0 * result.score / max_score if max_score else 0.0
    view = {
        "ta": ta,
        "student": student or result.student or Path(result.submission).stem,
        "submission": result.submission,
        "assignment_id": result.assignment,
        "assignment_title": getattr(assignment, "title", "") or result.assignment,
        "version": result.version,
        "status": result.status,
        "error": result.error if result.status != "graded" else None,
        "score": shown_score(result), "max_score": format_points(max_score), "percent": round(percent),
        "grade_class": score_class(result, percent),
        "questions": questions,
        "diagnoses": list(diagnoses.values()),
        "failures": failures,
        "overridden": [c["id"] for c in checks if c.get("override")],
        "passed": sum(1 for c in checks if c["status"] == "passed"),
        "check_count": len(checks),
        "hidden_count": sum(1 for c in checks if c["hidden"]),
        "hidden_not_run": {"count": len(not_run), "points": format_points(sum(s.points for s in not_run)),
                           "total": format_points(max_score + sum(s.points for s in not_run))} if not_run else None,
        # Parts of this report that could not be rendered (a plot), each said where it would be.
        "render_problems": [{"what": f"the loss curve of {c['id']}", "reason": c["plot_error"]}
                            for c in checks if c.get("plot_error")],
    }
    if ta:
        view["integrity"] = list(result.integrity)
        view["isolation_missing"] = [{"layer": name, "detail": layer.get("detail", "")}
                                     for name, layer in result.isolation.items() if not layer.get("active")]
        view["timing"] = {k: f"{v:.2f}" for k, v in result.timing.items() if isinstance(v, (int, float))}
    return view


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]
