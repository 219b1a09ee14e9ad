"""`tensorgrade import otter`: otter-grader master notebooks -> our single source, built.

The notebooks are written here, in otter's documented format: otter-grader 7.0.0's sdist and wheel
ship none of its example notebooks, and CI cannot fetch otter's repository. `tutorial_master()` is
otter's own tutorial master notebook (docs/tutorial/demo.ipynb) cell for cell; `TUTORIAL_ANSWERS`
are its six submissions' answers (docs/tutorial/submissions/). The others cover the rest of the
format (test config points, points lists, all_or_nothing, PROMPT, SOLUTION NO PROMPT, IGNORE, SEED,
manual written answers, exception-based tests, the v0 format).

The slow test grades the tutorial's submissions with `otter run` (otter-grader 7.0.0 in its own
virtualenv, built once under .cache/peers-venv) on the autograder zip `otter assign` makes, and with
us, and asserts equal points per question. With TENSORGRADE_OTTER_REPO=<a checkout of
ucbds-infra/otter-grader>, every master notebook of its docs and test files is imported too.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from tensorgrade.course.importers.otter import ImportFailure, import_otter, otter_stub, summary

ROOT = Path(__file__).resolve().parent.parent
TG = str(Path(sys.executable).parent / "tensorgrade")
# otter's kernel (ipykernel) and the tutorial's libraries, at our own pins (constraints.txt)
PEER_PINS = ("otter-grader==7.0.0", "ipykernel==7.4.0", "numpy==2.4.6", "pandas==3.1.1", "matplotlib==3.11.2")


def raw(text):
    return nbformat.v4.new_raw_cell(text)


def md(text, **metadata):
    return nbformat.v4.new_markdown_cell(text, metadata=metadata)


def code(text, out=None, stream=None):
    cell = nbformat.v4.new_code_cell(text)
    if stream is not None:
        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=stream))
    if out is not None:
        cell.outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": out}, execution_count=1))
    return cell


def notebook(*cells):
    made = nbformat.v4.new_notebook(cells=list(cells), metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    return made


def question(name, *cells, **config):
    lines = [f"name: {name}"] + [f"{k}: {json.dumps(v)}" for k, v in config.items()]
    return [raw("# BEGIN QUESTION\n" + "\n".join(lines)), *cells, raw("# END QUESTION")]


def block(kind, *cells):
    return [raw(f"# BEGIN {kind}"), *cells, raw(f"# END {kind}")]


DATA = '''data = pd.DataFrame({
    "flavor": ["chocolate", "vanilla", "chocolate", "strawberry", "strawberry", "vanilla", "mint", 
               "mint", "chocolate"],
    "scoops": [1, 1, 2, 1, 3, 2, 1, 2, 3],
    "price": [2, 1.5, 3, 2, 4, 2, 4, 5, 5]
})
'''


def tutorial_master():
    """otter's docs/tutorial/demo.ipynb, cell for cell."""
    return notebook(
        raw('# ASSIGNMENT CONFIG\nrequirements: requirements.txt\nsolutions_pdf: true\nexport_cell:\n'
            '    instructions: "These are some submission instructions."\ngenerate: \n    pdf: true\n'
            '    filtering: true\n    pagebreaks: true\n    zips: false'),
        md("# Otter-Grader Tutorial\n\nThis notebook is part of the Otter-Grader tutorial."),
        code("import pandas as pd\nimport numpy as np\n%matplotlib inline"),
        *question("q1", md("**Question 1:** Write a function `square` that returns the square of its argument."),
                  *block("SOLUTION", code("def square(x):\n    return x**2 # SOLUTION")),
                  *block("TESTS", code("square(1) == 1", "True"), code("square(0) == 0", "True"),
                         code("# HIDDEN\nsquare(2.5) == 6.25", "True"))),
        *question("q2", md("**Question 2:** Write an infinite generator of the Fibonacci sequence `fiberator` "
                           "that is *not* recursive."),
                  *block("SOLUTION", code("def fiberator():\n    # BEGIN SOLUTION\n    yield 0\n    yield 1\n"
                                          "    x, y = 0, 1\n    while True:\n        x, y = y, x + y\n"
                                          "        yield y\n    # END SOLUTION")),
                  *block("TESTS", code("f = fiberator()\nassert next(f) == 0\nassert next(f) == 1"),
                         code("# HIDDEN\nf = fiberator()\n" + "\n".join(
                             f"assert next(f) == {n}" for n in (0, 1, 1, 2, 3, 5, 8, 13, 21))))),
        *question("q3", md("**Question 3:** Create a DataFrame mirroring the table below and assign this to "
                           "`data`. Then group by the `flavor` column and find the mean price for each flavor; "
                           "assign this **series** to `price_by_flavor`."),
                  *block("SOLUTION", code("# BEGIN SOLUTION NO PROMPT\n" + DATA + 'price_by_flavor = '
                                          'data.groupby("flavor").mean()["price"]\n# END SOLUTION\n'
                                          '""" # BEGIN PROMPT\ndata = ...\nprice_by_flavor = ...\n'
                                          '""" # END PROMPT\nprice_by_flavor')),
                  *block("TESTS", code('len(data["flavor"].unique()) == 4', "True"),
                         code('for l in ["chocolate", "vanilla", "strawberry", "mint"]:\n'
                              '    assert l in data["flavor"].unique()'),
                         code("assert type(price_by_flavor) == pd.Series"),
                         code("assert len(price_by_flavor) == 4"),
                         *[code(f'# HIDDEN\nnp.isclose(price_by_flavor["{k}"], {v})', "True")
                           for k, v in (("chocolate", 3.33333333), ("mint", 4.5), ("strawberry", 3),
                                        ("vanilla", 1.75))])),
        *question("q4", md("**Question 4:** Create a barplot of `price_by_flavor`."),
                  *block("SOLUTION", code("price_by_flavor.plot.bar(); # SOLUTION")), manual=True),
        *question("q5", md("**Question 5:** What do you notice about the bar plot?"),
                  *block("SOLUTION", md("**SOLUTION:** mint is the highest...?")), manual=True),
    )


# The answers of otter's tutorial submissions (docs/tutorial/submissions/ipynbs/demo-<name>.ipynb):
# q1..q4 in the order of the student notebook's answer cells.
FIB = ("def fiberator():\n    yield 0\n    yield 1\n    x, y = 0, 1\n    while True:\n        x, y = y, x + y\n"
       "        yield y")
GROUPED = DATA + 'price_by_flavor = data.groupby("flavor").mean()["price"]\nprice_by_flavor'
RIGHT = ["def square(x):\n    return x**2", FIB, GROUPED, "price_by_flavor.plot.bar()"]
TUTORIAL_ANSWERS = {
    "passesAll": RIGHT,
    "fails1": ["def square(x):\n    return x**3", *RIGHT[1:]],
    "fails2": [RIGHT[0], "def fiberator():\n    yield 0", *RIGHT[2:]],
    "fails2Hidden": [RIGHT[0], "def fiberator():\n    yield 0\n    yield 1\n    while True:\n        yield 1", *RIGHT[2:]],
    "fails3": [*RIGHT[:2], GROUPED.replace('groupby("flavor")', 'groupby("scoops")'), RIGHT[3]],
    "fails3Hidden": [*RIGHT[:2], GROUPED.replace('["price"]\n', '["scoops"]\n'), RIGHT[3]],
}


def features_master():
    """The rest of the v1 format: config files, test config points, points lists, all_or_nothing,
    BEGIN/END SOLUTION in code, SOLUTION NO PROMPT + PROMPT, otter_include, IGNORE, SEED, a manual
    written answer. Every secret line holds SECRET or a value only the reference has."""
    return notebook(
        raw("# ASSIGNMENT CONFIG\nname: features\nfiles:\n    - data.csv"),
        code("import numpy as np"),
        *question("q1", md("**Question 1.** Assign `x` to the smallest prime number."),
                  *block("SOLUTION", code("x = 2 # SOLUTION")),
                  *block("TESTS", code("isinstance(x, int)", "True"),
                         code('""" # BEGIN TEST CONFIG\npoints: 1.5\nhidden: true\n""" # END TEST CONFIG\nx', "2")),
                  points=2),
        *question("q2", md("**Question 2.** Write `column_mean(path)`: the mean of the `value` column of a CSV."),
                  *block("SOLUTION", code(
                      "def column_mean(path):\n    # BEGIN SOLUTION\n"
                      "    values_SECRET = [float(row.split(',')[1]) for row in open(path).read().split()[1:]]\n"
                      "    return sum(values_SECRET) / len(values_SECRET)\n    # END SOLUTION\n\n"
                      "rng_SECRET = np.random.default_rng(0)  # SEED\nprint('debugging only')  # IGNORE")),
                  *block("TESTS", code("column_mean('data.csv')", "2.5"),
                         code("# HIDDEN\nassert abs(column_mean('data.csv') - 2.5) < 1e-9  # hidden SECRET")),
                  points=[1, 2]),
        *question("q3", md("**Question 3.** Write `scaled(values, factor)`."),
                  *block("SOLUTION", code(
                      "def scaled(values, factor):\n    # BEGIN SOLUTION NO PROMPT\n"
                      "    return [v * factor for v in values]  # SECRET\n    # END SOLUTION\n"
                      '    """ # BEGIN PROMPT\n    return ...\n    """ # END PROMPT'),
                      md("Then call it below:", tags=["otter_include"]),
                      code("doubled = scaled([1, 2], 2) # SOLUTION")),
                  *block("TESTS", code("scaled([1, 2, 3], 3)", "[3, 6, 9]"), code("doubled == [2, 4]", "True"),
                         code("# HIDDEN\nscaled([7], 6)  # SECRET", "[42]")),
                  all_or_nothing=True),
        *question("q4", md("**Question 4.** Why is the mean of data.csv 2.5?"),
                  *block("SOLUTION", md("**SOLUTION:** because SECRET_REASON")), manual=True, points=2),
    )


def exceptions_master():
    """Exception-based tests (`tests: ok_format: false`), one of them asking for `env`."""
    return notebook(
        raw("# ASSIGNMENT CONFIG\ntests:\n    ok_format: false"),
        *question("q1", md("**Question 1.** Write `double(n)`."),
                  *block("SOLUTION", code("def double(n):\n    return 2 * n # SOLUTION")),
                  *block("TESTS", code("def test_double(double):\n    assert double(2) == 4\n\n"
                                       "test_double(double)  # IGNORE"),
                         code("# HIDDEN\ndef test_env(env):\n    assert env['double'](21) == 42\n"))),
    )


def v0_master():
    """otter's v0 format: question YAML in a markdown cell's fenced block, `## Test ##` cells."""
    return notebook(
        md("**Question 1.** Assign `x` to the smallest prime number.\n\n```\nBEGIN QUESTION\nname: q1\n"
           "points: 2\n```"),
        code("x = 2 # SOLUTION"),
        code("## Test ##\nisinstance(x, int)", "True"),
        code("## Hidden Test ##\nx", "2"),
        md("**Question 2.** Say why.\n\n```\nBEGIN QUESTION\nname: q2\nmanual: true\npoints: 1\n```"),
        md("**SOLUTION:** because V0_SECRET"),
        md("The end."),
    )


def write(folder: Path, name: str, nb) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


def released_text(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The four fixtures, imported into one course."""
    root = tmp_path_factory.mktemp("course")
    masters = tmp_path_factory.mktemp("masters")
    (masters / "data.csv").write_text("name,value\na,1\nb,4\n")
    made = {}
    for name, nb in (("tutorial", tutorial_master()), ("features", features_master()),
                     ("exceptions", exceptions_master()), ("oldformat", v0_master())):
        made[name] = import_otter(write(masters, name, nb), name, root)
    return root, made


def test_every_fixture_imports_with_otters_points(course):
    root, made = course
    points = {name: {q["name"]: q["points"] for q in outcome.questions} for name, outcome in made.items()}
    assert points["tutorial"] == {"q1": 1, "q2": 1, "q3": 1, "q4": 0, "q5": 0}
    assert points["features"] == {"q1": 2, "q2": 3, "q3": 1, "q4": 2}
    assert points["exceptions"] == {"q1": 1}
    assert points["oldformat"] == {"q1": 2, "q2": 1}
    spec = (root / "assignments" / "features" / "assignment.yaml").read_text()
    assert "points: 1.5" in spec and "q3.all" in spec  # a test config's points; all_or_nothing as one check
    assert (root / "assignments" / "features" / "data.csv").is_file()
    lines = "\n".join(summary(made["tutorial"]))
    assert "questions: 5, 3 points" in lines and "tests imported: 13 (7 public, 6 hidden)" in lines
    assert "lifted (decided outside the sandbox)" in lines and "q4.manual" in lines
    assert "np.True_" in lines  # otter's own tutorial fails its hidden q3 tests under NumPy 2: said so
    assert "v0 format" in "\n".join(summary(made["oldformat"]))


def test_stubs_are_otters_and_no_solution_reaches_the_students(course):
    root, _ = course
    template = nbformat.read(str(root / "assignments" / "features" / "features.ipynb"), as_version=4)
    answers = [c.source for c in template.cells if c.cell_type == "code"
               and c.get("metadata", {}).get("tensorgrade", {}).get("answer")]
    assert answers == ["x = ...", "def column_mean(path):\n    ...\n", "def scaled(values, factor):\n    return ...",
                       "doubled = ..."]
    markdown = "\n".join(c.source for c in template.cells if c.cell_type == "markdown")
    assert "Then call it below:" in markdown and "_Type your answer here, replacing this text._" in markdown
    for name, secrets in (("tutorial", ["return x**2", "x, y = y, x + y", 'groupby("flavor")', "mint is the highest",
                                        "square(2.5) == 6.25", "assert next(f) == 21"]),
                          ("features", ["SECRET", "debugging only"]),
                          ("exceptions", ["2 * n", "env['double'](21)"]),
                          ("oldformat", ["x = 2", "V0_SECRET", "repr(x) == '2'"])):
        text = released_text(root / "assignments" / name)
        assert not [s for s in secrets if s in text], name
    source = (root / "solutions" / "features" / "features.py").read_text()
    assert "debugging only" not in source  # `# IGNORE` lines are in no notebook, as in otter
    assert "SECRET_REASON" in source  # the written answer kept for the TA, in a hidden-checks cell


def test_release_gate_and_grading_of_the_reference(course, tmp_path):
    root, _ = course
    for name in ("features", "exceptions", "oldformat"):
        done = subprocess.run([TG, "release", f"assignments/{name}", "--out", str(tmp_path / "release")], cwd=root,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        text = released_text(tmp_path / "release" / name)
        assert "SECRET" not in text and "2 * n" not in text and "x = 2" not in text


def test_refusals_name_the_cell_and_leave_nothing(tmp_path):
    masters = tmp_path / "masters"
    broken = notebook(*question("q1", md("Q"), raw("# BEGIN SOLUTION"), code("x = 1 # SOLUTION")))
    with pytest.raises(ImportFailure, match=r"cell 4 \(question q1\): an END QUESTION with an unended solution block"):
        import_otter(write(masters, "broken", broken), "broken", tmp_path / "c")
    bad_test = notebook(*question("q1", *block("SOLUTION", code("x = 1 # SOLUTION")),
                                  *block("TESTS", code("x ==", "True"))))
    with pytest.raises(ImportFailure, match=r"cell 5 \(question q1\): the test is not valid Python"):
        import_otter(write(masters, "bad", bad_test), "bad", tmp_path / "c")
    r_notebook = notebook(md("x"))
    r_notebook.metadata.kernelspec = {"name": "ir", "display_name": "R", "language": "R"}
    with pytest.raises(ImportFailure, match="Python notebooks only"):
        import_otter(write(masters, "rnb", r_notebook), "rnb", tmp_path / "c")
    assert not (tmp_path / "c" / "solutions").exists() and not (tmp_path / "c" / "assignments").exists()
    assert otter_stub("    y = x * x # SOLUTION\n    return y # SOLUTION") == "    y = ...\n    ..."


def test_cli_import(tmp_path):
    path = write(tmp_path / "m", "demo", tutorial_master())
    done = subprocess.run([TG, "import", "otter", str(path), "--id", "demo", "--root", str(tmp_path / "c")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "questions: 5, 3 points" in done.stdout and "awaiting a TA's grade" in done.stdout
    again = subprocess.run([TG, "import", "otter", str(path), "--id", "demo", "--root", str(tmp_path / "c")],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 2 and "--force" in again.stdout and "Traceback" not in again.stdout + again.stderr


# ---------------------------------------------------------------------------------------------
# Grade like the original: otter run vs us on the tutorial's submissions
# ---------------------------------------------------------------------------------------------

def peer_venv() -> Path:
    """otter-grader 7.0.0 in its own virtualenv (never ours), built once per set of pins."""
    cache = ROOT / ".cache" / "peers-venv"
    cache.mkdir(parents=True, exist_ok=True)
    venv = cache / ("otter-" + hashlib.sha256(" ".join(PEER_PINS).encode()).hexdigest()[:12])
    with open(cache / ".otter.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".installed").is_file():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-compile", *PEER_PINS],
                                  capture_output=True, text=True, timeout=1500)
            assert done.returncode == 0, f"pip install {' '.join(PEER_PINS)}: {done.stderr[-3000:]}"
            (venv / ".installed").write_text(" ".join(PEER_PINS))
    return venv / "bin"


def otter_answers(nb) -> list:
    """The code answer cells of otter's student notebook."""
    return [c for c in nb.cells if c.cell_type == "code" and "otter_answer_cell" in c.metadata.get("tags", [])]


def _otter_scores(results: Path) -> dict[str, float]:
    return {t["name"]: t["score"] for t in json.loads(results.read_text())["tests"] if "score" in t}


@pytest.mark.slow
def test_tutorial_submissions_grade_like_otter_run(tmp_path):
    with ThreadPoolExecutor(max_workers=1) as pool:
        building = pool.submit(peer_venv)  # pip runs while we import and grade
        master = write(tmp_path / "master", "demo", tutorial_master())
        (master.parent / "requirements.txt").write_text("tqdm\n")  # the tutorial's, which otter copies
        import_otter(master, "demo", tmp_path / "course")
        peer = building.result()
    env = {**os.environ, "PATH": f"{peer}{os.pathsep}{os.environ['PATH']}"}
    # --no-run-tests: under NumPy 2 otter's own check of its tutorial fails (q3's np.isclose cases), see below
    assigned = subprocess.run([str(peer / "otter"), "assign", "--no-pdfs", "--no-run-tests", str(master),
                               str(tmp_path / "dist")],
                              env=env, capture_output=True, text=True, timeout=900, cwd=master.parent)
    assert assigned.returncode == 0, assigned.stdout[-3000:] + assigned.stderr[-3000:]
    autograder = next((tmp_path / "dist" / "autograder").glob("*.zip"))
    student = nbformat.read(str(tmp_path / "dist" / "student" / "demo.ipynb"), as_version=4)
    answer_cells = otter_answers(student)
    # The template shows what otter's student notebook shows.
    ours = nbformat.read(str(tmp_path / "course" / "assignments" / "demo" / "demo.ipynb"), as_version=4)
    stubs = [c.source for c in ours.cells
             if c.cell_type == "code" and c.get("metadata", {}).get("tensorgrade", {}).get("answer")]
    assert stubs == [c.source for c in answer_cells]
    submissions = tmp_path / "submissions"

    def fill(answers):
        filled = nbformat.from_dict(json.loads(json.dumps(student)))
        for cell, answer in zip(otter_answers(filled), answers, strict=True):
            cell.source = answer
        return filled

    for name, answers in TUTORIAL_ANSWERS.items():
        write(submissions, name, fill(answers))
    # passesAll after a first cell that starts with `%matplotlib inline` (otter's kernel runs it), graded
    # by us only: the magic must cost nothing (it once skipped the imports after it in the sandbox).
    magic = fill(RIGHT)
    first = next(c for c in magic.cells if c.cell_type == "code" and "import pandas" in c.source)
    first.source = "%matplotlib inline\n" + first.source.replace("%matplotlib inline", "")
    write(submissions, "magicFirst", magic)

    def otter_run(name: str) -> dict[str, float]:
        out = tmp_path / "otter" / name
        out.mkdir(parents=True)
        subprocess.run([str(peer / "otter"), "run", "-a", str(autograder), "-o", str(out),
                        str(submissions / f"{name}.ipynb")], env=env, check=True, capture_output=True, timeout=600)
        return _otter_scores(out / "results.json")

    with ThreadPoolExecutor(max_workers=2) as pool:
        theirs = dict(zip(TUTORIAL_ANSWERS, pool.map(otter_run, TUTORIAL_ANSWERS)))
    done = subprocess.run([TG, "grade", "assignments/demo", str(submissions), "--json", str(tmp_path / "ours.json"),
                           "-j", "2"], cwd=tmp_path / "course", capture_output=True, text=True, timeout=900)
    assert (tmp_path / "ours.json").is_file(), done.stdout + done.stderr
    mine = {}
    for result in json.loads((tmp_path / "ours.json").read_text()):
        per_question: dict[str, float] = {}
        for check in result["checks"]:
            per_question[check["question"]] = per_question.get(check["question"], 0.0) + check["points"]
        mine[Path(result["submission"]).stem] = per_question
        assert {c["status"] for c in result["checks"] if c["question"] in ("q4", "q5")} == {"manual"}
    table = {name: {q: (round(mine[name][q], 5), round(theirs[name][q], 5)) for q in theirs[name]}
             for name in TUTORIAL_ANSWERS}
    print(json.dumps(table, indent=1))
    assert {q: round(p, 5) for q, p in mine["magicFirst"].items()} == \
        {q: round(p, 5) for q, p in mine["passesAll"].items()}
    assert set(theirs["passesAll"]) == {"q1", "q2", "q3"}
    assert all(ours_ == theirs_ for questions in table.values() for ours_, theirs_ in questions.values()), table
    # what otter 7.0.0 gives (NumPy 2: the tutorial's np.isclose tests fail for everyone)
    assert theirs["fails1"]["q1"] == pytest.approx(2 / 3, abs=1e-5) and theirs["fails2"]["q2"] == 0
    assert theirs["fails2Hidden"]["q2"] == 0.5 and theirs["fails3"]["q3"] == 0.25


# ---------------------------------------------------------------------------------------------
# otter's own notebooks, where a checkout of its repository is given
# ---------------------------------------------------------------------------------------------

OTTER_REPO = os.environ.get("TENSORGRADE_OTTER_REPO")
OTTER_NOTEBOOKS = sorted(p for folder in ("docs/tutorial", "docs/_static/notebooks", "test/test_assign/files")
                         for p in (Path(OTTER_REPO) / folder).glob("*.ipynb")) if OTTER_REPO else []


@pytest.mark.skipif(not OTTER_REPO, reason="TENSORGRADE_OTTER_REPO (a checkout of ucbds-infra/otter-grader) not set")
@pytest.mark.parametrize("path", OTTER_NOTEBOOKS, ids=lambda p: p.name)
def test_otters_own_notebooks(path, tmp_path):
    nb = nbformat.read(str(path), as_version=4)
    language = (nb.metadata.get("kernelspec", {}).get("language") or "python").lower()
    if language != "python" or path.name == "assign-plugin.ipynb":
        with pytest.raises(ImportFailure, match="Python notebooks only|no otter questions"):
            import_otter(path, "imported", tmp_path)
        return
    outcome = import_otter(path, "imported", tmp_path)
    assert outcome.questions
