"""Students check their work in the notebook: `import tensorgrade.student as tg; tg.init(); tg.check("q1")`.

The released a2 and a4 notebooks, filled with the reference's answers, run top to bottom in a real
Jupyter kernel (nbclient + ipykernel) from a separate virtualenv whose numpy and IPython differ from
the grader's lock (constraints.txt), with the package installed into it by a plain `pip install`
(no constraints), which must leave that virtualenv's torch, numpy and IPython as they were. Then the
pieces in this process: stubs, a raising check, hostile text, a missing release, Colab's zips, and
grading unchanged by the checker's cells.
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

import tensorgrade.student as tg
from tensorgrade.course.assignment import load_assignment
from tensorgrade.course.release.gate import fill_with_reference, release_assignment
from tensorgrade.course.release.packaging import is_checker
from tensorgrade.course.release.student_check import check_notebook
from tensorgrade.student import locate
from tensorgrade.student.display import CheckReport
from conftest import ROOT

# What the student's virtualenv holds: the one CPU torch wheel here (the lock's version: no other CPU
# build is available to pip), with Colab's numpy and an IPython 8 (the lock has numpy 2.4, IPython 9).
STUDENT_VERSIONS = {"torch": "2.13.0", "numpy": "2.0.2", "ipython": "8.39.0", "ipykernel": "6.29.5",
                    "nbclient": "0.10.2"}
KEPT = ("torch", "numpy", "ipython")  # what `pip install tensorgrade` must leave as it found it
RESULTS_MARK = "TENSORGRADE-TEST-RESULTS "
WRONG_SIGN = ("return grad_output * 1.5", "return -grad_output * 1.5")  # a2's known mistake wrong-gradient-sign
STRING_RAISES = ("    def string(self):\n", "    def string(self):\n        raise ValueError('<b>my bug</b>')\n")
CELL_LABEL = re.compile(r"In \[\d+\]|cell \d+")  # where the student's code is: In [N] live, cell K at grading


def _lock_versions() -> dict:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        if version and not line.startswith("#"):
            pins[name.strip().lower()] = version.strip()
    return pins


def test_the_student_virtualenv_differs_from_the_grader_lock():
    lock = _lock_versions()
    assert STUDENT_VERSIONS["numpy"] != lock["numpy"] and STUDENT_VERSIONS["ipython"] != lock["ipython"]


# ---------------------------------------------------------------------------------------------
# The student's virtualenv: built once, cached under .cache/ by what it holds
# ---------------------------------------------------------------------------------------------

def _pip(python: Path, *args: str) -> None:
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-compile", *args],
                          capture_output=True, text=True, env=_clean_env(python.parent.parent))
    assert done.returncode == 0, f"pip install {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _installed(python: Path) -> dict:
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                            check=True, env=_clean_env(python.parent.parent))
    return {p["name"].lower(): p["version"] for p in json.loads(listed.stdout)}


def _clean_env(venv: Path) -> dict:
    """The environment of a student's shell with that virtualenv active: nothing of the grader's."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PIP_CONSTRAINT")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


def _dependencies_key() -> str:
    """What invalidates a cached virtualenv: its pins, this Python, the package's declared dependencies
    (the package itself is installed editable, so code changes need no rebuild)."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    declared = pyproject[pyproject.index("dependencies"):pyproject.index("[project.scripts]")]
    text = json.dumps([STUDENT_VERSIONS, sys.version, declared, str(ROOT)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_student_venv() -> dict:
    """{python, before, after}: the virtualenv's interpreter and its packages before and after
    `pip install -e <this repository>` (without constraints.txt). Built once per set of pins."""
    cache = ROOT / ".cache" / "student-venv"
    cache.mkdir(parents=True, exist_ok=True)
    venv = cache / _dependencies_key()
    record = venv / "tensorgrade-test.json"
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time, for every pytest on this machine
        for stale in cache.iterdir():  # virtualenvs of other pins: about 1 GB each
            if stale.is_dir() and stale != venv:
                shutil.rmtree(stale, ignore_errors=True)
        if not record.is_file():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            python = venv / "bin" / "python"
            # The student's own environment first, then the package into it as a student installs it.
            _pip(python, *(f"{name}=={version}" for name, version in STUDENT_VERSIONS.items()))
            before = _installed(python)
            _pip(python, "-e", str(ROOT))
            after = _installed(python)
            record.write_text(json.dumps({"before": before, "after": after}))
    data = json.loads(record.read_text())
    return {"python": venv / "bin" / "python", **data}


@pytest.fixture(scope="module")
def venv_building():
    """The virtualenv builds in the background (pip is one process) while the releases are made."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        yield executor.submit(build_student_venv)


@pytest.fixture(scope="module")
def student_venv(venv_building, releases) -> dict:
    return venv_building.result()


@pytest.mark.slow
def test_pip_install_leaves_the_students_torch_numpy_and_ipython_in_place(student_venv):
    before, after = student_venv["before"], student_venv["after"]
    assert before["torch"].split("+")[0] == STUDENT_VERSIONS["torch"]
    assert {name: after[name] for name in KEPT} == {name: before[name] for name in KEPT}
    assert "tensorgrade" in after
    assert not any(name.startswith("nvidia-") for name in after)  # no CUDA build was pulled in
    lock = _lock_versions()
    assert after["numpy"] != lock["numpy"] and after["ipython"] != lock["ipython"]


# ---------------------------------------------------------------------------------------------
# Releases, and their notebooks run in a real Jupyter kernel of that virtualenv
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def releases(request, tmp_path_factory) -> dict:
    if any("student_venv" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("venv_building")  # started first, so it builds while the gate runs
    out = tmp_path_factory.mktemp("student-release")
    found = {}
    for assignment_id in ("a2_autograd", "a4_training"):
        report = release_assignment(ROOT / "assignments" / assignment_id, out)
        assert report.ok, [p.message for p in report.problems]
        found[assignment_id] = report.release_dir
    return found


def filled_notebook(release: Path, assignment_id: str, name: str, changes: tuple[tuple[str, str], ...] = ()) -> Path:
    """The released notebook with the reference's answers (and changes: mistakes), saved in the
    release folder as a student's working copy."""
    released = nbformat.read(str(release / f"{assignment_id}.ipynb"), as_version=4)
    solution = load_assignment(ROOT / "assignments" / assignment_id).solution_path
    notebook = fill_with_reference(released, nbformat.read(str(solution), as_version=4))
    for old, new in changes:
        cell = next(c for c in notebook.cells if old in c.source)
        cell.source = cell.source.replace(old, new)
    path = release / f"{name}.ipynb"
    nbformat.write(notebook, str(path))
    return path


RUNNER = f"""
import json, pathlib, sys
import nbformat
from nbclient import NotebookClient

source, target = sys.argv[1:3]
notebook = nbformat.read(source, as_version=4)
# After the notebook: the results the check cells returned (IPython's Out) and the kernel's versions.
notebook.cells.append(nbformat.v4.new_code_cell(
    "import json, sys, torch, numpy, IPython\\n"
    "results = [r for value in Out.values() for r in getattr(value, 'results', [])]\\n"
    "print({RESULTS_MARK!r} + json.dumps({{'results': results, 'prefix': sys.prefix,\\n"
    "      'versions': {{'torch': torch.__version__, 'numpy': numpy.__version__, 'ipython': IPython.__version__}}}}))"))
NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
               resources={{"metadata": {{"path": str(pathlib.Path(source).parent)}}}}).execute()
nbformat.write(notebook, target)
"""


def run_in_jupyter(student_venv, notebook: Path, tmp_path: Path) -> tuple[nbformat.NotebookNode, dict]:
    """Execute the notebook top to bottom in a Jupyter kernel of the student's virtualenv."""
    runner = tmp_path / "run_notebook.py"
    runner.write_text(RUNNER)
    executed = tmp_path / f"{notebook.stem}.executed.ipynb"
    python = student_venv["python"]
    done = subprocess.run([str(python), str(runner), str(notebook), str(executed)], capture_output=True, text=True,
                          cwd=notebook.parent, env=_clean_env(python.parent.parent), timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    result = nbformat.read(str(executed), as_version=4)
    printed = "".join(o.get("text", "") for o in result.cells[-1].outputs if o.output_type == "stream")
    assert RESULTS_MARK in printed, _outputs(result.cells[-1])
    return result, json.loads(printed.split(RESULTS_MARK, 1)[1])


def _outputs(cell) -> str:
    """A cell's outputs as text: streams, the text/plain of results and displays, errors."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
        elif output.output_type == "error":
            parts.append(f"ERROR {output.ename}: {output.evalue}\n" + "\n".join(output.traceback))
    return "".join(parts)


def _html(cell) -> str:
    return "".join(o.data.get("text/html", "") for o in cell.outputs if o.output_type in ("execute_result", "display_data"))


def check_cells(notebook) -> dict[str, nbformat.NotebookNode]:
    cells = {}
    for cell in notebook.cells:
        if cell.cell_type == "code" and is_checker(cell.metadata) and cell.source.startswith("tg.check("):
            cells[json.loads(cell.source[len("tg.check("):-1])] = cell
    return cells


def _assert_ran_in_the_student_venv(data, student_venv):
    assert Path(data["prefix"]).resolve() == student_venv["python"].parent.parent.resolve()
    assert data["versions"]["numpy"] == STUDENT_VERSIONS["numpy"]
    assert data["versions"]["ipython"] == STUDENT_VERSIONS["ipython"]
    assert data["versions"]["torch"].split("+")[0] == STUDENT_VERSIONS["torch"]


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", ["a2_autograd", "a4_training"])
def test_released_notebook_with_the_reference_passes_every_check_cell_in_jupyter(
        assignment_id, releases, student_venv, tmp_path):
    release = releases[assignment_id]
    notebook = filled_notebook(release, assignment_id, "my_work")
    executed, data = run_in_jupyter(student_venv, notebook, tmp_path)
    _assert_ran_in_the_student_venv(data, student_venv)
    errors = [(i, _outputs(c)) for i, c in enumerate(executed.cells)
              if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert errors == []
    first = next(c for c in executed.cells if c.cell_type == "code")
    assert is_checker(first.metadata) and "public checks ready" in _outputs(first), _outputs(first)
    spec = load_assignment(release, with_hidden=False)
    cells = check_cells(executed)
    assert sorted(cells) == sorted(q.id for q in spec.questions)
    for question, cell in cells.items():
        text = _outputs(cell)
        public = [c for c in spec.checks if c.question == question and c.visibility == "public"]
        hidden = [c for c in spec.checks if c.question == question and c.visibility == "hidden"]
        assert text.count("PASSED") == len(public) and "FAILED" not in text and "ERROR" not in text, text
        assert ("graded after submission" in text) == bool(hidden), text
        assert "passed" in _html(cell)
    public_ids = [c.id for c in spec.checks if c.visibility == "public"]
    assert [r["id"] for r in data["results"]] == public_ids
    assert all(r["status"] == "passed" and r["points"] == r["max_points"] for r in data["results"]), data["results"]
    assert set(data["results"][0]) >= {"id", "status", "points", "max_points", "message", "diagnosis"}


@pytest.mark.slow
def test_a_known_mistake_and_a_raising_check_show_as_at_grading_in_the_check_cells(releases, student_venv, tmp_path):
    release = releases["a2_autograd"]
    notebook = filled_notebook(release, "a2_autograd", "mistakes", changes=(WRONG_SIGN, STRING_RAISES))
    executed, data = run_in_jupyter(student_venv, notebook, tmp_path)
    live = {r["id"]: r for r in data["results"]}
    assert live["q1.backward"]["status"] == "failed" and live["q1.backward"]["diagnosis"] == "wrong-gradient-sign"
    assert live["q1.forward"]["status"] == "passed" and live["q2.parameters"]["status"] == "passed"
    # The same verdicts, messages and diagnoses as the sandboxed check of the saved notebook (the
    # student's code is "In [N]" in their kernel, "cell K" in the saved file).
    graded, _ = check_notebook(release, notebook)
    sandboxed = {c.id: c for c in graded.checks}
    assert sorted(live) == sorted(sandboxed)
    for check_id, result in live.items():
        expected = sandboxed[check_id]
        assert (result["status"], CELL_LABEL.sub("CELL", result["message"]), result["diagnosis"]) == \
            (expected.status, CELL_LABEL.sub("CELL", expected.message), expected.diagnosis), check_id
    cells = check_cells(executed)
    text, html = _outputs(cells["q1"]), _html(cells["q1"])
    for shown in (text, html):
        assert "wrong-gradient-sign" in shown and "Gradient with the wrong sign" in shown
    assert live["q1.backward"]["message"].split("\n")[0] in text and "FAILED" in text
    assert "opposite sign" in html and "failed" in html
    # The raising check: the student's own frames, named as their kernel numbers the cells.
    raised = live["q2.string"]
    assert raised["status"] == "error" and "ValueError: <b>my bug</b>" in raised["message"]
    assert re.search(r"In \[\d+\], line \d+, in string", raised["message"]), raised["message"]
    assert "site-packages" not in raised["message"] and "tensorgrade/" not in raised["message"]
    text, html = _outputs(cells["q2"]), _html(cells["q2"])
    assert "ERROR" in text and "in string" in text
    assert "&lt;b&gt;my bug&lt;/b&gt;" in html and "<b>my bug" not in html


# ---------------------------------------------------------------------------------------------
# Grading is unaffected by the checker's cells
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_checker_cells_do_nothing_at_grading_even_when_edited(releases, a2_grader, tmp_path):
    release = releases["a2_autograd"]
    notebook = filled_notebook(release, "a2_autograd", "edited_checker")
    edited = nbformat.read(str(notebook), as_version=4)
    checkers = [i for i, c in enumerate(edited.cells) if is_checker(c.metadata)]
    assert len(checkers) == 4  # tg.init and one tg.check per question
    edited.cells[checkers[1]].source = 'report = tg.check("q1")\nprint(report.results, tg.check_all().passed)'
    nbformat.write(edited, str(notebook))
    result = a2_grader.grade(notebook)
    assert result.status == "graded" and result.score == result.max_score, \
        [(c.id, c.message) for c in result.checks if c.status != "passed"]
    assert [c.status for c in result.cells] == ["ok"] * len(result.cells)
    assert {c.index for c in result.cells} >= set(checkers)
    assert result.integrity == []


# ---------------------------------------------------------------------------------------------
# In this process: the checker's pieces (a2 only: a4's device checks install a simulated device)
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def live(monkeypatch):
    """tensorgrade.student as in a student's kernel: other tests of this process may have loaded the
    sandbox's worker, which makes it a no-op."""
    monkeypatch.setattr(tg, "_GRADER_MODULES", ())
    monkeypatch.setattr(tg, "_state", {"checker": None, "problem": None, "assignment": None})
    return tg


def _define(namespace: dict, source: str, filename: str) -> None:
    import linecache

    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), namespace)


def test_a_stub_says_so_in_one_line_and_hidden_points_are_listed(live, releases, monkeypatch):
    monkeypatch.chdir(releases["a2_autograd"])
    namespace = {"__name__": "__main__"}
    exec("import torch\n", namespace)
    template = nbformat.read(str(releases["a2_autograd"] / "a2_autograd.ipynb"), as_version=4)
    for cell in template.cells:
        if cell.cell_type == "code" and cell.metadata.get("tensorgrade", {}).get("answer"):
            exec(cell.source, namespace)
    status = live.init()
    assert "public checks ready" in repr(status)
    checker = live._state["checker"]
    results = checker.run(namespace, "q1")
    assert [r.diagnosis for r in results] == ["not-implemented", "not-implemented"]
    report = live._report(["q1"])
    report.results = [{"id": r.id, "question": r.question, "status": r.status, "points": r.points,
                       "max_points": r.max_points, "message": r.message, "diagnosis": r.diagnosis} for r in results]
    text = repr(report)
    assert text.count("\n") == 0 and "not implemented yet" in text and "+ 2 points graded after submission" in text
    assert "not implemented yet" in report._repr_html_()


def test_a_raising_check_shows_the_students_traceback_trimmed_to_their_code(live, releases, monkeypatch):
    monkeypatch.chdir(releases["a2_autograd"])
    live.init()
    namespace = {"__name__": "__main__"}
    exec("import torch\n", namespace)
    cell = ("class LegendrePolynomial3(torch.autograd.Function):\n"
            "    @staticmethod\n"
            "    def forward(ctx, input):\n"
            "        return helper(input)\n"
            "def helper(x):\n"
            "    raise ValueError('my own bug')\n")
    _define(namespace, cell, "/tmp/ipykernel_1/cell7.py")
    results = live._state["checker"].run(namespace, "q1", {"/tmp/ipykernel_1/cell7.py": "In [7]"})
    forward = next(r for r in results if r.id == "q1.forward")
    assert forward.status == "error"
    assert "ValueError: my own bug" in forward.message
    assert "In [7], line 4, in forward" in forward.message and "In [7], line 6, in helper" in forward.message
    assert "tensorgrade" not in forward.message.split("\n", 1)[1]  # no frame of the checker's own


def test_student_text_is_escaped_in_html_and_written_out_in_text():
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)> \x1b[2J\u202e"
    report = CheckReport(assignment="a2_autograd", questions=["q1"], results=[
        {"id": "q1.forward", "question": "q1", "status": "failed", "points": 0.0, "max_points": 1.0,
         "message": f"your code raised ValueError: {hostile}\ndetail {hostile}", "diagnosis": hostile,
         "explanation": hostile}])
    html = report._repr_html_()
    assert "<script" not in html and "<img" not in html and "\x1b" not in html and "\u202e" not in html
    assert "&lt;script&gt;" in html
    text = repr(report)
    assert "\x1b" not in text and "\u202e" not in text and "\\x1b" in text


def test_without_the_release_init_says_what_to_download_and_where(live, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status = live.init(assignment="a2_autograd", search_roots=[tmp_path / "content"])
    text = repr(status)
    assert "a2_autograd.zip" in text and "download" in text.lower() and "Traceback" not in text
    assert "<div" in status._repr_html_()
    report = live.check("q1")
    assert report.results == [] and "no checks ran" in repr(report) and "a2_autograd.zip" in repr(report)
    assert not report.passed


def test_in_colab_a_release_zip_on_the_drive_is_found_and_unpacked(live, releases, tmp_path, monkeypatch):
    content = tmp_path / "content"
    drive = content / "drive" / "MyDrive" / "DL course"
    drive.mkdir(parents=True)
    shutil.copyfile(releases["a2_autograd"].parent / "a2_autograd.zip", drive / "a2_autograd (1).zip")
    (content / "a2_autograd-2.zip").write_bytes(b"not a zip")  # a broken download: passed over
    monkeypatch.chdir(content)
    status = live.init(assignment="a2_autograd", search_roots=[content, content / "drive" / "MyDrive"])
    assert "public checks ready" in repr(status), repr(status)
    assert (content / "a2_autograd" / "expectations.json").is_file()
    assert Path.cwd() == (content / "a2_autograd").resolve()  # the notebook's data paths are the release's
    # Uploaded to the session instead: found there too (and a second init finds the unpacked folder).
    found = locate.find_release(assignment="a2_autograd", search_roots=[content], namespace={})
    assert found.folder == (content / "a2_autograd").resolve()


def test_a_release_zip_that_escapes_its_folder_is_not_unpacked_outside_it(tmp_path):
    import zipfile

    archive = tmp_path / "a2_autograd.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a2_autograd/assignment.yaml", "id: a2_autograd\n")
        z.writestr("a2_autograd/expectations.json", "{}")
        z.writestr("a2_autograd/../../evil.txt", "x")
    into = tmp_path / "into"
    into.mkdir()
    folder = locate.unpack_release(archive, into, "a2_autograd")
    assert folder == into / "a2_autograd" and (folder / "assignment.yaml").is_file()
    assert not (tmp_path / "evil.txt").exists() and not (into / "evil.txt").exists()


def test_under_the_grader_the_checker_does_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorgrade.sandbox.inside.supervisor", sys.modules[__name__])
    assert tg.under_grader()
    assert tg.init() is None
    report = tg.check("q1")
    assert report.results == []


def test_the_first_cell_takes_the_instructors_release_address(tmp_path):
    from tensorgrade.course.release.packaging import init_cell_source, student_notebook

    copy = tmp_path / "a2_autograd"
    shutil.copytree(ROOT / "assignments" / "a2_autograd", copy, ignore=shutil.ignore_patterns(".cache", "__pycache__"))
    plain = load_assignment(copy, with_hidden=False)
    assert init_cell_source(plain).endswith('tg.init(assignment="a2_autograd")')
    with open(copy / "assignment.yaml", "a") as spec:
        spec.write('student: {release_url: "https://course.example/a2_autograd.zip"}\n')
    source = init_cell_source(load_assignment(copy, with_hidden=False))
    assert source.endswith('tg.init(assignment="a2_autograd", url="https://course.example/a2_autograd.zip")')
    compile(source, "<first cell>", "exec")
    notebook = student_notebook(plain)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code[0].source == init_cell_source(plain) and is_checker(code[0].metadata)
    assert "tensorgrade check" not in "".join(c.source for c in notebook.cells if c.cell_type == "markdown")
