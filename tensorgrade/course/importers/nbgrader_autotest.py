"""nbgrader's `### AUTOTEST` expansion, run in a process of its own on the instructor's source notebook.

`python -m tensorgrade.course.importers.nbgrader_autotest REQUEST.json ANSWER.json`: the request holds
the notebook's code cells (solutions whole, as nbgrader's generate_assignment sees them) and the
kernel's section of autotests.yml. This mirrors nbgrader 0.9.6's InstantiateTests preprocessor step
by step, so the asserts are the ones nbgrader would release: every code cell runs in order in one
IPython shell; in a test cell, the lines before each AUTOTEST line run first, the setup code once;
each snippet's type is dispatched on its IPython `text/plain` form (`int`, `list`, ...); each
template is normalized, hashed with a per-cell salt for HASHED AUTOTEST, evaluated, and its
sanitized `text/plain` value put into the `check` template. Why a separate process: the notebook's
code (and its prints) must not run in, or write into, the importer's own process.
"""

from __future__ import annotations

import hashlib
import json
import sys

DELIMITER, HASHED = "AUTOTEST", "HASHED"
COMMENT = "#"


class SnippetError(Exception):
    pass


def _sanitize(text: str) -> str:
    return text.strip('"').strip("'")  # nbgrader's sanitizer for the python kernels


class Kernel:
    def __init__(self):
        from IPython.core.interactiveshell import InteractiveShell

        self.shell = InteractiveShell.instance()

    def run(self, code: str) -> str | None:
        """The sanitized text/plain of the code's last expression (as a kernel's execute_result)."""
        result = self.shell.run_cell(code, store_history=False, silent=False)
        if result.error_before_exec or result.error_in_exec:
            error = result.error_before_exec or result.error_in_exec
            raise SnippetError(f"{type(error).__name__}: {error}")
        if result.result is None:
            return None
        data, _ = self.shell.display_formatter.format(result.result)
        return _sanitize(data["text/plain"]) if "text/plain" in data else None


def _render(template: str, **values) -> str:
    import jinja2

    return jinja2.Environment(loader=jinja2.BaseLoader).from_string(template).render(**values)


def expand(cells: list[dict], tests: dict) -> dict[int, str]:
    kernel = Kernel()
    expanded: dict[int, str] = {}
    setup, success = tests.get("setup"), tests.get("success")
    global _current
    for cell in cells:
        index, source = cell["index"], cell["source"]
        _current = index
        if not source:
            continue
        salt_int = int(hashlib.sha256((source + str(cell["position"])).encode("utf-8")).hexdigest(), 16) % 10**6
        new_lines, pending, setup_done, found = [], [], False, False
        for line in source.split("\n"):
            if DELIMITER not in line or line.strip()[:len(COMMENT)] != COMMENT:
                new_lines.append(line)
                pending.append(line)
                continue
            found = True
            kernel.run("\n".join(pending))
            pending = []
            if not cell["grade"]:
                raise SnippetError("an AUTOTEST line in a cell that is not an nbgrader grade cell "
                                   "(nbgrader refuses it too: mark the cell 'Autograder tests')")
            if setup is not None and not setup_done:
                new_lines.append(setup)
                setup_done = True
                kernel.run(setup)
            use_hash = HASHED in line[:line.find(DELIMITER)]
            if use_hash and tests.get("hash") is None:
                raise SnippetError("a HASHED AUTOTEST line, but autotests.yml has no `hash` template")
            snippets = [s.strip() for s in line[line.find(DELIMITER) + len(DELIMITER):].strip(";").split(";")]
            if "" in snippets:
                snippets.remove("")
            for snippet in snippets:
                salt = None
                if use_hash:
                    salt_int += 1
                    salt = hex(salt_int)[2:]
                try:
                    dispatch = kernel.run(_render(tests["dispatch"], snippet=snippet))
                    templates = tests["templates"].get(dispatch, tests["templates"]["default"])
                    checks = []
                    for entry in templates:
                        message = _render(entry["fail"], snippet=snippet).replace('"', '\\"')
                        test = _render(tests["normalize"], snippet=entry["test"])
                        if salt is not None:
                            test = _render(tests["hash"], snippet=test, salt=salt)
                        test = _render(test, snippet=snippet)
                        checks.append(_render(tests["check"], snippet=test, value=kernel.run(test), message=message))
                except SnippetError as exc:
                    raise SnippetError(f"AUTOTEST {snippet!r}: the source notebook raised {exc}") from None
                new_lines += checks
                new_lines.append("")
        if cell["grade"] and found and success is not None:
            new_lines.append(success)
            pending.append(success)
        if pending:
            kernel.run("\n".join(pending))
        if found:
            expanded[index] = "\n".join(new_lines)
    return expanded


def main() -> int:
    request = json.loads(open(sys.argv[1]).read())
    try:
        answer = {"expanded": {str(k): v for k, v in expand(request["cells"], request["tests"]).items()}}
    except SnippetError as exc:
        answer = {"error": str(exc), "cell": _current}
    except Exception as exc:  # noqa: BLE001 (reported to the importer, which names the cell)
        answer = {"error": f"{type(exc).__name__}: {exc}", "cell": _current}
    with open(sys.argv[2], "w") as handle:
        json.dump(answer, handle)
    return 0


_current = None

if __name__ == "__main__":
    sys.exit(main())
