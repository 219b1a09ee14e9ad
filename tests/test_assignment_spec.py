import shutil
from pathlib import Path

import pytest
import yaml

from tensorgrade.course.assignment import SpecError, load_assignment

ROOT = Path(__file__).resolve().parent.parent
A2 = ROOT / "assignments" / "a2_autograd"


def test_a2_loads_with_every_check_implemented():
    assignment = load_assignment(A2)
    assert assignment.max_score == 10
    assert set(assignment.implementations) == {c.id for c in assignment.checks}
    assert {m.name for m in assignment.mistakes} >= {"forgot-zero-grad", "wrong-gradient-sign"}
    assert all(m.explanation for m in assignment.mistakes)
    assert assignment.secret_seed is not None


def test_public_only_load_needs_no_solutions(tmp_path):
    assignment = load_assignment(A2, solutions_dir=tmp_path / "nowhere", with_hidden=False)
    assert set(assignment.implementations) == {c.id for c in assignment.checks if c.visibility == "public"}
    assert "hidden" not in assignment.probe_sources


def _broken_copy(tmp_path, edit):
    copy = tmp_path / "a2_autograd"
    shutil.copytree(A2, copy)
    spec = yaml.safe_load((copy / "assignment.yaml").read_text())
    edit(spec)
    (copy / "assignment.yaml").write_text(yaml.safe_dump(spec))
    return copy


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("version"), "missing key `version`"),
    (lambda s: s["checks"][0].update(visibility="secret"), r"checks\[0\] \(q1.forward\): `visibility` must be public or hidden"),
    (lambda s: s["checks"][0].update(points=3), "question q1 declares 4 points but its checks add up to 6"),
    (lambda s: s["checks"].append(dict(s["checks"][0])), r"duplicate check ids \['q1.forward'\]"),
    (lambda s: s["checks"][0].update(question="q9"), "`question` 'q9' is not one of"),
    (lambda s: s.update(id="other"), "does not match the folder name"),
    (lambda s: s.update(limits={"cell_timeout": -1}), "limits: `cell_timeout` must be a positive number"),
])
def test_spec_errors_name_file_key_and_problem(tmp_path, edit, message):
    copy = _broken_copy(tmp_path, edit)
    with pytest.raises(SpecError, match=message) as err:
        load_assignment(copy, solutions_dir=ROOT / "solutions" / "a2_autograd")
    assert str(copy / "assignment.yaml") in str(err.value)


def test_invalid_yaml_and_missing_implementation(tmp_path):
    copy = _broken_copy(tmp_path, lambda s: None)
    (copy / "assignment.yaml").write_text("id: [unclosed")
    with pytest.raises(SpecError, match="invalid YAML"):
        load_assignment(copy)
    copy2 = _broken_copy(tmp_path / "b", lambda s: s["checks"].append(
        {"id": "q1.extra", "question": "q1", "points": 0.5, "visibility": "public"}) or s["questions"][0].update(points=4.5))
    with pytest.raises(SpecError, match=r"no implementation for public check\(s\) \['q1.extra'\]"):
        load_assignment(copy2, solutions_dir=ROOT / "solutions" / "a2_autograd")


def test_the_fingerprint_covers_the_grader_code_that_runs_with_the_probes():
    """A change to the probe helpers or the kernel changes reference outputs' cache key."""
    from tensorgrade.course.assignment import load_assignment

    assignment = load_assignment(ROOT / "assignments" / "a4_training", ROOT / "solutions" / "a4_training")
    names = {path.name for path in assignment._sources()}
    assert {"devicesim.py", "probing.py", "kernel.py", "transport.py", "probes.py", "solution.ipynb"} <= names


def test_standard_probe_names_are_read_without_importing_the_probes():
    """The grader's process checks probe names from the modules' source: importing the probes
    loads torch there (150 MB and a second per batch, the bench's PSS regression of 12-03)."""
    import subprocess
    import sys

    from tensorgrade.checking.inside.standard_probes import STANDARD_PROBES
    from tensorgrade.course.assignment import standard_probe_names

    assert standard_probe_names() == STANDARD_PROBES
    code = ("import sys; from pathlib import Path; from tensorgrade.course.assignment import load_assignment; "
            f"a = load_assignment(Path({str(ROOT / 'assignments' / 'a4_training')!r}), "
            f"Path({str(ROOT / 'solutions' / 'a4_training')!r})); "
            "assert a.implementations; print(sorted(m for m in ('torch', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_a_standard_probe_name_needs_the_preamble_and_an_unknown_one_is_not_defined(tmp_path):
    copy = _broken_copy(tmp_path, lambda s: None)
    probes = copy / "probes.py"
    source = probes.read_text()
    from tensorgrade.course.assignment import PROBES_PREAMBLE

    assert PROBES_PREAMBLE.strip() in source.splitlines()
    probes.write_text(source.replace(PROBES_PREAMBLE.strip(), "# no preamble"))
    with pytest.raises(SpecError, match=r"probe `probe_\w+` used by q\d\.\w+ is not defined"):
        load_assignment(copy, solutions_dir=ROOT / "solutions" / "a2_autograd")
