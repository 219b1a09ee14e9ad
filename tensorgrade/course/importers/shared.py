"""What the nbgrader and otter importers both take from the other grader's notebook: our ids from
its names, and the modules its workers preload."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys


def sanitize(text: str | None) -> str | None:
    """A grade_id (or an otter question name) as an id part: lower-case letters, digits and _,
    starting with a letter."""
    if not text:
        return None
    cleaned = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    if not cleaned:
        return None
    return cleaned if cleaned[0].isalpha() else f"q{cleaned}"


def imported_modules(sources: list[str]) -> list[str]:
    """Modules the notebook imports that are installed here: the workers preload them once."""
    names: list[str] = []
    for source in sources:
        try:
            tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.append(node.module)
    top_level = {name: name.split(".")[0] for name in dict.fromkeys(names)}
    return [name for name, top in top_level.items()
            if top not in sys.stdlib_module_names and importlib.util.find_spec(top) is not None]
