"""An assignment: its spec (`assignments/<id>/assignment.yaml`), its checks and its solutions.

Layout, for an assignment `<id>`:
    assignments/<id>/assignment.yaml   spec: questions, checks (id, points, visibility), limits
    assignments/<id>/<id>.ipynb        the student template
    assignments/<id>/checks.py         public checks' inputs and judges (run by the grader)
    assignments/<id>/probes.py         public probes (run inside the sandbox)
    solutions/<id>/solution.ipynb      the reference solution
    solutions/<id>/checks.py           hidden checks' inputs and judges
    solutions/<id>/probes.py           hidden probes
    solutions/<id>/secret.yaml         the secret seed hidden inputs are drawn from
    solutions/<id>/mistakes/<name>.py  known mistakes, as variants of the reference
The spec is validated on load; every error names the file, the key and the problem.

A single-source assignment (tensorgrade/course/source.py) has `solutions/<id>/<id>.py` instead of
the solutions files above: its hidden checks and probes, secret seed and known mistakes are read
from that source here, and the files of assignments/<id>/ and the reference notebook are generated
from it by `tensorgrade build` (a test proves they are up to date).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tensorgrade.checking.checks import Check
from tensorgrade.sandbox.limits import Limits

VISIBILITIES = ("public", "hidden")
THRESHOLDS_FILE = "thresholds.json"
PROBES_PREAMBLE = "from tensorgrade.checking.inside.standard_probes import *  # noqa: F401,F403 (the vocabulary's probes)\n"
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
CHECK_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_]+$")


class SpecError(ValueError):
    """An assignment that cannot be used, with the file, key and problem in the message."""


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    points: float


@dataclass(frozen=True)
class CheckSpec:
    id: str
    question: str
    points: float
    visibility: str
    timeout: float
    description: str


@dataclass(frozen=True)
class Mistake:
    name: str
    source: str
    explanation: str


@dataclass
class Assignment:
    id: str
    title: str
    version: str
    directory: Path
    solutions_dir: Path
    notebook: str
    files: list[str]
    questions: list[Question]
    checks: list[CheckSpec]
    cell_timeout: float
    submission_timeout: float
    limits: Limits
    preload: list[str]
    requires: list[str]
    implementations: dict[str, Check] = field(default_factory=dict)
    probe_sources: dict[str, str] = field(default_factory=dict)
    mistakes: list[Mistake] = field(default_factory=list)
    secret_seed: int | None = None
    public_seed: int | None = None  # inputs of student-side checks in a release; never the secret seed

    @property
    def max_score(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def template_path(self) -> Path:
        return self.directory / self.notebook

    @property
    def solution_path(self) -> Path:
        return self.solutions_dir / "solution.ipynb"

    @property
    def source_path(self) -> Path:
        """The single source, where there is one (solutions/<id>/<id>.py)."""
        return self.solutions_dir / f"{self.id}.py"

    def check(self, check_id: str) -> CheckSpec:
        return next(c for c in self.checks if c.id == check_id)

    def fingerprint(self) -> str:
        """Changes whenever anything that determines reference outputs changes."""
        digest = hashlib.sha256()
        digest.update(f"{self.id}\0{self.version}\0{self.secret_seed}\0".encode())
        for path in sorted(self._sources()):
            digest.update(str(path.name).encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()[:16]

    def _sources(self) -> list[Path]:
        paths = [self.directory / "assignment.yaml", self.directory / "checks.py", self.directory / "probes.py",
                 self.solution_path, self.solutions_dir / "checks.py", self.solutions_dir / "probes.py"]
        paths += sorted((self.solutions_dir / "mistakes").glob("*.py"))
        paths += [self.source_path, self.solutions_dir / THRESHOLDS_FILE, self.directory / THRESHOLDS_FILE]
        # The grader's code that runs with the probes and shapes what they return: a change there
        # must not leave stale reference outputs in the cache.
        import tensorgrade

        package = tensorgrade.package_dir()
        paths += sorted((package / "checking" / "inside").glob("*.py"))
        paths += [package / "sandbox" / "inside" / "kernel.py", package / "sandbox" / "transport.py"]
        return [p for p in paths if p.exists()]


def _require(data: dict, key: str, kind: type | tuple, where: str) -> Any:
    if key not in data:
        raise SpecError(f"{where}: missing key `{key}`")
    value = data[key]
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise SpecError(f"{where}: `{key}` must be {expected}, got {type(value).__name__} {value!r}")
    return value


def _number(data: dict, key: str, where: str, default: float | None = None, positive: bool = True) -> float:
    if key not in data and default is not None:
        return default
    value = _require(data, key, (int, float), where)
    if isinstance(value, bool) or (positive and value <= 0) or value < 0:
        raise SpecError(f"{where}: `{key}` must be a {'positive' if positive else 'non-negative'} number, got {value!r}")
    return float(value)


def load_assignment(directory: Path | str, solutions_dir: Path | str | None = None,
                    with_hidden: bool = True, thresholds: bool = True) -> Assignment:
    """Load and validate an assignment; `with_hidden=False` for a student-side release;
    `thresholds=False` leaves thresholds derived from the reference unresolved (to compute them)."""
    directory = Path(directory).resolve()
    spec_path = directory / "assignment.yaml"
    where = str(spec_path)
    if not spec_path.is_file():
        raise SpecError(f"{where}: not found (an assignment folder holds assignment.yaml)")
    try:
        data = yaml.safe_load(spec_path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{where}: must be a mapping of keys, got {type(data).__name__}")

    assignment_id = _require(data, "id", str, where)
    if not ID_PATTERN.match(assignment_id):
        raise SpecError(f"{where}: `id` {assignment_id!r} must be lower-case letters, digits and _")
    if assignment_id != directory.name:
        raise SpecError(f"{where}: `id` {assignment_id!r} does not match the folder name {directory.name!r}")
    version = str(_require(data, "version", (str, int, float), where))
    notebook = data.get("notebook", f"{assignment_id}.ipynb")
    files = data.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise SpecError(f"{where}: `files` must be a list of paths relative to {directory}")
    for relative in files:
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise SpecError(f"{where}: `files`: {relative!r} must be a path inside the assignment folder")

    questions = []
    for i, raw in enumerate(_require(data, "questions", list, where)):
        qwhere = f"{where}: questions[{i}]"
        if not isinstance(raw, dict):
            raise SpecError(f"{qwhere}: must be a mapping")
        questions.append(Question(id=_require(raw, "id", str, qwhere), title=str(raw.get("title", "")),
                                  # 0 is nbgrader's: a test cell worth nothing still runs and shows
                                  points=_number(raw, "points", qwhere, positive=False)))
    question_ids = [q.id for q in questions]
    if len(set(question_ids)) != len(question_ids):
        raise SpecError(f"{where}: `questions`: duplicate question ids {question_ids}")

    limits_raw = data.get("limits", {}) or {}
    lwhere = f"{where}: limits"
    if not isinstance(limits_raw, dict):
        raise SpecError(f"{lwhere}: must be a mapping")
    default_limits = Limits()
    limits = Limits(
        memory_mb=int(_number(limits_raw, "memory_mb", lwhere, default_limits.memory_mb)),
        cpu_seconds=int(_number(limits_raw, "cpu_seconds", lwhere, default_limits.cpu_seconds)),
        file_size_mb=int(_number(limits_raw, "file_size_mb", lwhere, default_limits.file_size_mb)),
        max_processes=int(_number(limits_raw, "max_processes", lwhere, default_limits.max_processes)),
        open_files=int(_number(limits_raw, "open_files", lwhere, default_limits.open_files)),
    )
    cell_timeout = _number(limits_raw, "cell_timeout", lwhere, 60.0)
    submission_timeout = _number(limits_raw, "submission_timeout", lwhere, 600.0)
    check_timeout_default = _number(limits_raw, "check_timeout", lwhere, 30.0)

    checks = []
    for i, raw in enumerate(_require(data, "checks", list, where)):
        cwhere = f"{where}: checks[{i}]"
        if not isinstance(raw, dict):
            raise SpecError(f"{cwhere}: must be a mapping")
        check_id = _require(raw, "id", str, cwhere)
        cwhere = f"{where}: checks[{i}] ({check_id})"
        if not CHECK_ID_PATTERN.match(check_id):
            raise SpecError(f"{cwhere}: `id` must look like `q1.forward`")
        question = _require(raw, "question", str, cwhere)
        if question not in question_ids:
            raise SpecError(f"{cwhere}: `question` {question!r} is not one of {question_ids}")
        visibility = _require(raw, "visibility", str, cwhere)
        if visibility not in VISIBILITIES:
            raise SpecError(f"{cwhere}: `visibility` must be public or hidden, got {visibility!r}")
        checks.append(CheckSpec(id=check_id, question=question, points=_number(raw, "points", cwhere, positive=False),
                                visibility=visibility,
                                timeout=_number(raw, "timeout", cwhere, check_timeout_default),
                                description=str(raw.get("description", ""))))
    check_ids = [c.id for c in checks]
    duplicates = sorted({c for c in check_ids if check_ids.count(c) > 1})
    if duplicates:
        raise SpecError(f"{where}: `checks`: duplicate check ids {duplicates}")
    for question in questions:
        total = sum(c.points for c in checks if c.question == question.id)
        if abs(total - question.points) > 1e-9:
            raise SpecError(f"{where}: question {question.id} declares {question.points:g} points but its "
                            f"checks add up to {total:g}")

    worker = data.get("worker", {}) or {}
    preload = worker.get("preload", ["numpy"]) if isinstance(worker, dict) else None
    if not isinstance(preload, list) or not all(isinstance(p, str) for p in preload):
        raise SpecError(f"{where}: worker: `preload` must be a list of module names")
    requires = data.get("requires", [])
    if not isinstance(requires, list):
        raise SpecError(f"{where}: `requires` must be a list of module names")
    public_seed = data.get("public_seed")
    if public_seed is not None and (type(public_seed) is not int or public_seed < 0):
        raise SpecError(f"{where}: `public_seed` must be a non-negative integer, got {public_seed!r}")

    solutions = Path(solutions_dir).resolve() if solutions_dir else directory.parent.parent / "solutions" / assignment_id
    assignment = Assignment(
        id=assignment_id, title=str(data.get("title", assignment_id)), version=version,
        directory=directory, solutions_dir=solutions, notebook=notebook, files=files,
        questions=questions, checks=checks, cell_timeout=cell_timeout,
        submission_timeout=submission_timeout, limits=limits, preload=preload, requires=requires,
        public_seed=public_seed)
    _attach_checks(assignment, with_hidden, thresholds)
    return assignment


def _load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _attach_checks(assignment: Assignment, with_hidden: bool, thresholds: bool = True) -> None:
    places = {"public": assignment.directory}
    if with_hidden:
        places["hidden"] = assignment.solutions_dir
        if not assignment.solutions_dir.is_dir():
            raise SpecError(f"{assignment.solutions_dir}: solutions folder not found (needed for hidden checks "
                            "and the reference; pass --solutions DIR)")
    source = None
    if with_hidden and assignment.source_path.is_file():
        from tensorgrade.course.source import read_source

        source = read_source(assignment.source_path)
    for visibility, folder in places.items():
        wanted = [c for c in assignment.checks if c.visibility == visibility]
        checks_path, probes_path = folder / "checks.py", folder / "probes.py"
        if not wanted:
            continue
        if visibility == "hidden" and source is not None:
            _attach_from_source(assignment, source, wanted)
            continue
        if not checks_path.is_file():
            raise SpecError(f"{checks_path}: not found ({len(wanted)} {visibility} check(s) are declared)")
        module = _load_module(checks_path, f"tensorgrade_checks_{assignment.id}_{visibility}")
        declared = getattr(module, "CHECKS", None)
        if not isinstance(declared, list) or not all(isinstance(c, Check) for c in declared):
            raise SpecError(f"{checks_path}: must define CHECKS, a list of tensorgrade.checking.checks.Check")
        by_id = {c.id: c for c in declared}
        missing = [c.id for c in wanted if c.id not in by_id]
        extra = [i for i in by_id if i not in {c.id for c in wanted}]
        if missing:
            raise SpecError(f"{checks_path}: no implementation for {visibility} check(s) {missing}")
        if extra:
            raise SpecError(f"{checks_path}: CHECKS has {extra}, not declared as {visibility} checks in assignment.yaml")
        assignment.implementations.update(by_id)
        # Hidden checks that all reuse public probes need no hidden probes.py.
        own = [c.id for c in declared if (c.probe_module or visibility) == visibility]
        if probes_path.is_file():
            assignment.probe_sources[visibility] = probes_path.read_text()
        elif own:
            raise SpecError(f"{probes_path}: not found ({visibility} check(s) {own} use its probes)")
    for check in assignment.implementations.values():
        spec = assignment.check(check.id)
        module = check.probe_module or spec.visibility
        if module not in places or (spec.visibility == "public" and module == "hidden"):
            raise SpecError(f"{places[spec.visibility] / 'checks.py'}: {check.id} uses probe_module {module!r}; "
                            "a check uses its own visibility's probes, or a hidden check the public ones")
        if not _defines_probe(assignment.probe_sources[module], check.probe):
            raise SpecError(f"{places[module] / 'probes.py'}: probe `{check.probe}` used by {check.id} is not defined")
    for visibility, folder in places.items() if thresholds else ():
        _resolve_thresholds(assignment, visibility, folder)
    if with_hidden and source is not None:
        _secret_and_mistakes_from_source(assignment, source)
    elif with_hidden:
        secret_path = assignment.solutions_dir / "secret.yaml"
        if not secret_path.is_file():
            raise SpecError(f"{secret_path}: not found (holds `seed`, the secret seed of hidden inputs)")
        secret = yaml.safe_load(secret_path.read_text()) or {}
        if not isinstance(secret, dict) or not isinstance(secret.get("seed"), int):
            raise SpecError(f"{secret_path}: `seed` must be an integer")
        assignment.secret_seed = secret["seed"]
        for path in sorted((assignment.solutions_dir / "mistakes").glob("*.py")):
            source = path.read_text()
            assignment.mistakes.append(Mistake(name=path.stem, source=source, explanation=_explanation(source)))


def _explanation(source: str) -> str:
    """A mistake file's leading comment block: what the mistake is, for the student."""
    lines = []
    for line in source.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines).strip()


INSIDE_DIR = Path(__file__).resolve().parent.parent / "checking" / "inside"


@functools.cache
def standard_probe_names() -> frozenset[str]:
    """checking/inside/standard_probes.STANDARD_PROBES, read from the modules' source: importing them
    loads torch into the grader's own process (150 MB of PSS and a second of CPU per batch), which
    only needs the names. tests/test_assignment_spec.py holds it equal to the imported set."""
    return frozenset(_exported_probes("standard_probes"))


def _exported_probes(module: str) -> set[str]:
    """The `probe_*` names that `from tensorgrade.checking.inside.<module> import *` gives: those of a
    literal __all__, else the module's own and those it star-imports from its siblings."""
    tree = ast.parse((INSIDE_DIR / f"{module}.py").read_text())
    names: set[str] = set()
    listed: set[str] | None = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("probe_"):
            names.add(node.name)
        elif (isinstance(node, ast.ImportFrom) and node.module and any(a.name == "*" for a in node.names)
              and node.module.startswith("tensorgrade.checking.inside.")):
            names |= _exported_probes(node.module.rsplit(".", 1)[1])
        elif (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
              and isinstance(node.value, (ast.List, ast.Tuple))):
            listed = set(ast.literal_eval(node.value))
    return names if listed is None else {n for n in listed if n.startswith("probe_")}


def _defines_probe(probe_source: str, name: str) -> bool:
    if name in standard_probe_names() and PROBES_PREAMBLE.strip() in probe_source.splitlines():
        return True
    return re.search(rf"^def {re.escape(name)}\(", probe_source, re.MULTILINE) is not None


def _attach_from_source(assignment: Assignment, source, wanted: list[CheckSpec]) -> None:
    """The hidden checks and probes of a single-source assignment, read from its source."""
    from tensorgrade.course.source import AuthoringError, run_declarations

    where = str(source.path)
    try:
        declared = run_declarations(source, "hidden-checks").get("CHECKS", [])
    except AuthoringError as exc:
        raise SpecError(str(exc)) from None
    by_id = {c.id: c for c in declared}
    missing = [c.id for c in wanted if c.id not in by_id]
    extra = [i for i in by_id if i not in {c.id for c in wanted}]
    if missing or extra:
        raise SpecError(f"{where}: the hidden checks declared ({sorted(by_id)}) differ from those of "
                        f"{assignment.directory / 'assignment.yaml'} ({sorted(c.id for c in wanted)}): "
                        "run `tensorgrade build` to regenerate it")
    assignment.implementations.update(by_id)
    assignment.probe_sources["hidden"] = PROBES_PREAMBLE + source.code_of("hidden-probes")


def _resolve_thresholds(assignment: Assignment, visibility: str, folder: Path) -> None:
    """Thresholds derived from the reference (`from_reference`), as `tensorgrade thresholds` computed them
    into the folder's thresholds.json; one not computed, or computed for another declaration, is an error."""
    import json

    needing = [c for c in assignment.implementations.values()
               if c.threshold is not None and c.threshold.value is None and assignment.check(c.id).visibility == visibility]
    if not needing:
        return
    path = folder / THRESHOLDS_FILE
    computed = json.loads(path.read_text()) if path.is_file() else {}
    for check in needing:
        entry = computed.get(check.id)
        if not isinstance(entry, dict) or entry.get("declared") != check.threshold.declaration():
            state = "was not computed" if entry is None else "was computed for another declaration"
            raise SpecError(f"{path}: the threshold of {check.id} (derived from the reference) {state}: run "
                            f"`tensorgrade thresholds {assignment.source_path}`")
        check.threshold.value = float(entry["value"])


def _secret_and_mistakes_from_source(assignment: Assignment, source) -> None:
    from tensorgrade.course.source import AuthoringError, run_declarations

    seed = source.meta.get("secret_seed")
    if type(seed) is not int:
        raise SpecError(f"{source.path}: the header's `secret_seed` must be an integer (the seed of hidden inputs)")
    assignment.secret_seed = seed
    try:
        declared = run_declarations(source, "mistakes").get("MISTAKES", [])
        for spec in declared:
            variant = "\n\n".join(source.edited(question, edits, f"mistake {spec.name}")
                                   for question, edits in spec.edits.items())
            assignment.mistakes.append(Mistake(name=spec.name, source=variant, explanation=spec.explanation))
    except AuthoringError as exc:
        raise SpecError(str(exc)) from None
