"""What must never appear in a release (the secret index), and the scan of a release for it.

A secret is a line of the reference solution's code that is not in the template (given code, stub
signatures and code the prompt itself shows are), a line of `solutions/<id>/checks.py`,
`probes.py`, `secret.yaml` or `mistakes/*`, a line or a copy of any other solutions file
(thresholds, held-out data), or the secret seed.

Code shared by design is not a secret: a line of the reference or of the hidden checks that the
public checks also run (fetching the student's class, `with torch.no_grad():`, a continuation line
of the same call) is allowed, unless it holds a number (numbers are what hidden inputs and
thresholds are made of). "Run" means module-level code and the functions reachable from a public
check, so a hidden function pasted into public probes.py but used by no public check is still
reported. Known limit: a number-free line pasted INTO a function a public check runs counts as
shared. Lines shorter than 10 characters and import lines are too common to mean anything.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tensorgrade.course.assignment import Assignment

MIN_SECRET_LINE = 10  # `return x`, `pass`, `])`: too common to mean anything
MIN_EMBEDDED_SECRET = 24  # a secret line this long is also found inside a longer line (a markdown hint)
MAX_EMBEDDED_SCAN_BYTES = 2_000_000  # big data files are compared line for line only
MAX_SECRET_TEXT_BYTES = 64 * 1024 * 1024
MIN_SEED_DIGITS = 5  # a shorter seed is a common number; it is reported as guessable instead
IMPORT_LINE = re.compile(r"^(from\s+\S+\s+)?import\s")
NUMBER = re.compile(r"(?<![\w.])\.?\d")  # a numeric literal, not the 3 of `Polynomial3`


def normalize_line(line: str) -> str:
    return " ".join(line.split())


def _significant(line: str) -> bool:
    return len(line) >= MIN_SECRET_LINE and any(c.isalnum() for c in line) and not IMPORT_LINE.match(line)


def _lines(text: str) -> list[str]:
    return [normalize_line(line) for line in text.splitlines()]


def _notebook_lines(notebook_path: Path) -> list[str]:
    notebook = nbformat.read(str(notebook_path), as_version=4)
    return list(dict.fromkeys(line for cell in notebook.cells for line in _lines(cell.source) if line))


def public_code_in_use(assignment: Assignment) -> list[str]:
    """Normalized lines of the public checks.py and probes.py that the public checks run: module-level
    code and every top-level function or class reachable from it or from a public check's probe."""
    probe_names = {impl.probe for spec in assignment.checks if spec.visibility == "public"
                   for impl in [assignment.implementations.get(spec.id)] if impl is not None}
    lines: list[str] = []
    for name in ("checks.py", "probes.py"):
        path = assignment.directory / name
        if not path.is_file():
            continue
        source = path.read_text()
        try:
            tree = ast.parse(source)
        except SyntaxError:
            lines += _lines(source)  # cannot tell what runs: everything counts as run
            continue
        definitions = {node.name: node for node in tree.body
                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        module_level = [node for node in tree.body if node not in definitions.values()]
        pending = [*(probe_names if name == "probes.py" else ()),
                   *(n.id for node in module_level for n in ast.walk(node) if isinstance(n, ast.Name))]
        reached: set[str] = set()
        while pending:
            current = pending.pop()
            if current in reached or current not in definitions:
                continue
            reached.add(current)
            pending += [n.id for n in ast.walk(definitions[current]) if isinstance(n, ast.Name)]
        source_lines = source.splitlines()
        for node in [*module_level, *(definitions[n] for n in reached)]:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            lines += _lines("\n".join(source_lines[first - 1:node.end_lineno]))
    return lines


@dataclass
class SecretIndex:
    """What must never appear in a release, each with where it comes from."""
    lines: dict[str, str] = field(default_factory=dict)  # normalized line -> its origin
    file_digests: dict[str, str] = field(default_factory=dict)  # sha256 of a solutions file -> its path
    seed: str | None = None

    def add(self, text: str, origin: str, allowed: set[str] = frozenset()) -> None:
        for number, line in enumerate(_lines(text), 1):
            if _significant(line) and line not in allowed and line not in self.lines:
                self.lines[line] = f"{origin}:{number}"

    @property
    def embedded(self) -> list[str]:
        return [line for line in self.lines if len(line) >= MIN_EMBEDDED_SECRET]


def collect_secrets(assignment: Assignment, root: Path) -> SecretIndex:
    """The reference's own lines, hidden checks and probes, the secret seed, mistakes, and every
    other file under the solutions folder (thresholds, held-out data); see the module docstring."""
    solutions = assignment.solutions_dir
    index = SecretIndex()

    def origin(path: Path) -> str:
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)

    template_lines = _notebook_lines(assignment.template_path) if assignment.template_path.is_file() else []
    public_lines = public_code_in_use(assignment)

    def in_template(text: str) -> set[str]:
        """Reference lines the template itself shows (given code, a stub's signature, the prompt's
        `model = nn.Sequential(...)`): "the reference's lines that are not in the template" are secret."""
        return {line for line in _lines(text) if _significant(line) and any(line in t for t in template_lines)}

    def plumbing(text: str) -> set[str]:
        """Number-free lines the public checks also run: shared by design (see the module docstring)."""
        return {line for line in _lines(text) if _significant(line) and not NUMBER.search(line)
                and any(line in public for public in public_lines)}

    if assignment.solution_path.is_file():
        solution = nbformat.read(str(assignment.solution_path), as_version=4)
        for number, cell in enumerate(solution.cells):
            if cell.cell_type == "code":
                index.add(cell.source, f"{origin(assignment.solution_path)} cell {number}",
                          allowed=in_template(cell.source) | plumbing(cell.source))
    if assignment.source_path.is_file():  # a single source: its hidden cells, mistakes and samples
        from tensorgrade.course.source import read_source

        cells = read_source(assignment.source_path).cells
        # A hidden test repeating a public test's lines (otter's and nbgrader's hidden cases often start
        # with the public one's): those lines are released with the public checks cell they are in.
        released = {line for cell in cells if cell.kind in ("checks", "probes") for line in _lines(cell.source)}
        for cell in cells:
            if cell.kind in ("hidden-checks", "hidden-probes", "mistakes", "samples"):
                index.add(cell.source, f"{origin(assignment.source_path)} cell {cell.index + 1}",
                          allowed=in_template(cell.source) | plumbing(cell.source) | (released if cell.kind in (
                              "hidden-checks", "hidden-probes") else set()))
    for name in ("checks.py", "probes.py"):
        if (solutions / name).is_file():
            text = (solutions / name).read_text()
            index.add(text, origin(solutions / name), allowed=plumbing(text))
    if (solutions / "secret.yaml").is_file():
        index.add((solutions / "secret.yaml").read_text(), origin(solutions / "secret.yaml"))
    for path in sorted((solutions / "mistakes").glob("*")) if (solutions / "mistakes").is_dir() else []:
        if path.is_file():
            text = path.read_text(errors="replace")
            index.add(text, origin(path), allowed=in_template(text) | plumbing(text))
    for path in sorted(solutions.rglob("*")) if solutions.is_dir() else []:
        relative = path.relative_to(solutions)
        if not path.is_file() or relative.parts[0] in ("samples", ".cache") or "__pycache__" in relative.parts:
            continue
        index.file_digests[hashlib.sha256(path.read_bytes()).hexdigest()] = origin(path)
        is_data = path.suffix not in (".py", ".ipynb", ".md") and relative.parts[0] != "mistakes"
        if is_data and path.name != "secret.yaml" and path.stat().st_size <= MAX_SECRET_TEXT_BYTES:
            try:
                index.add(path.read_text(), origin(path))
            except UnicodeDecodeError:
                pass  # binary held-out data: its digest is compared
    if assignment.secret_seed is not None and len(str(abs(assignment.secret_seed))) >= MIN_SEED_DIGITS:
        index.seed = str(assignment.secret_seed)
    return index


def _texts_of(path: Path) -> list[tuple[str, str]]:
    """(where, text) pieces of a released file to scan: a notebook's cells and metadata, or the
    text of any other file; nothing for binary files (their digest is compared)."""
    if path.suffix == ".ipynb":
        try:
            notebook = json.loads(path.read_text())
            pieces = [(f"cell {i}", "".join(c.get("source", "")) if isinstance(c.get("source"), list)
                       else str(c.get("source", ""))) for i, c in enumerate(notebook.get("cells", []))]
            pieces += [(f"cell {i} metadata", json.dumps(c.get("metadata", {})))
                       for i, c in enumerate(notebook.get("cells", []))]
            return pieces + [("metadata", json.dumps(notebook.get("metadata", {})))]
        except (ValueError, AttributeError):
            pass
    try:
        return [("", path.read_text())]
    except UnicodeDecodeError:
        return []


def scan_for_leaks(folder: Path, secrets: SecretIndex) -> list[str]:
    """Every place in the files under `folder` where a secret appears."""
    leaks = []
    embedded = secrets.embedded
    seed_pattern = re.compile(rf"(?<!\d){secrets.seed}(?!\d)") if secrets.seed else None
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder.parent).as_posix()
        origin = secrets.file_digests.get(hashlib.sha256(path.read_bytes()).hexdigest())
        if origin:
            leaks.append(f"{name} is a copy of {origin}")
            continue
        search_inside = path.stat().st_size <= MAX_EMBEDDED_SCAN_BYTES
        for where, text in _texts_of(path):
            place = f"{name} {where}".strip()
            if seed_pattern and seed_pattern.search(text):
                leaks.append(f"{place}: holds the secret seed")
            for number, line in enumerate(_lines(text), 1):
                hit = secrets.lines.get(line)
                if hit is None and search_inside and len(line) > MIN_EMBEDDED_SECRET:
                    hit = next((secrets.lines[s] for s in embedded if len(s) < len(line) and s in line), None)
                if hit:
                    leaks.append(f"{place} line {number}: {line[:100]!r} comes from {hit}")
    return leaks
