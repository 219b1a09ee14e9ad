"""Whatever goes wrong while a submitted file is read is an InvalidNotebook with its reason, never an
exception of Python's, json's or nbformat's: a batch grades the other submissions and reports this
one as invalid (tests/hostile has the same files graded end to end: int_5000_digits, lone_surrogate)."""

import json
from pathlib import Path

import nbformat
import pytest

from tensorgrade.submission import notebooks
from tensorgrade.submission.notebooks import InvalidNotebook, read_notebook


def notebook_json(**metadata) -> dict:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hi"), nbformat.v4.new_code_cell("x = 1")],
                                  metadata=metadata)
    return json.loads(nbformat.writes(nb))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "submission.ipynb"
    path.write_text(text)
    return path


def invalid(path: Path) -> InvalidNotebook:
    with pytest.raises(InvalidNotebook) as caught:
        read_notebook(path)
    assert caught.value.path == path
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__), \
        "no traceback of the cause"
    return caught.value


def test_an_integer_over_pythons_digit_limit(tmp_path):
    text = json.dumps(notebook_json(seed="SEED"), indent=1).replace('"SEED"', "7" * 5000)
    assert "holds an integer of 5000 digits, over Python's 4300-digit limit" in str(invalid(write(tmp_path, text)))


def test_an_integer_just_under_the_limit_is_read(tmp_path):
    text = json.dumps(notebook_json(seed="SEED"), indent=1).replace('"SEED"', "7" * 4000)
    assert read_notebook(write(tmp_path, text)).cells == [(1, "x = 1")]


@pytest.mark.parametrize("where, place", [("source", "cell 1's source"), ("metadata", "the notebook's metadata"),
                                          ("key", "the notebook's metadata")])
def test_a_lone_surrogate_escape(tmp_path, where, place):
    data = notebook_json()
    if where == "source":
        data["cells"][1]["source"] = "x = '\ud800'"
    elif where == "metadata":
        data["metadata"]["note"] = "\udc00"
    else:
        data["metadata"]["\udc00"] = 1
    message = str(invalid(write(tmp_path, json.dumps(data))))
    assert f"not valid Unicode text: {place} holds a lone UTF-16 surrogate" in message


def test_a_surrogate_pair_is_text(tmp_path):
    data = notebook_json()
    data["cells"][1]["source"] = "smile = '\U0001F600'"  # json.dumps writes \ud83d\ude00
    assert "\\ud83d\\ude00" in json.dumps(data)
    assert read_notebook(write(tmp_path, json.dumps(data))).cells == [(1, "smile = '\U0001F600'")]


def test_nesting_that_json_reads_but_validation_cannot(tmp_path):
    data = notebook_json(deep="DEEP")
    text = json.dumps(data).replace('"DEEP"', "[" * 600 + "]" * 600)
    assert "nested too deeply" in str(invalid(write(tmp_path, text)))


def test_an_error_while_reading_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, json.dumps(notebook_json()))
    monkeypatch.setattr(Path, "read_bytes", lambda self: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    assert "the file cannot be read: Permission denied" in str(invalid(path))


def test_any_other_exception_of_a_parser(tmp_path, monkeypatch):
    path = write(tmp_path, json.dumps(notebook_json()))
    monkeypatch.setattr(notebooks.nbformat, "reads", lambda *a, **k: (_ for _ in ()).throw(KeyError("cells")))
    assert "KeyError" in str(invalid(path))

    def overflow(*args, **kwargs):
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(notebooks.nbformat, "reads", overflow)
    assert "OverflowError: int too large" in str(invalid(path))


def test_an_exception_outside_every_parser_step(tmp_path, monkeypatch):
    path = write(tmp_path, json.dumps(notebook_json()))

    def broken(**fields):
        raise TypeError("unexpected")

    monkeypatch.setattr(notebooks, "Notebook", broken)
    assert str(invalid(path)) == "the file cannot be read as a notebook: TypeError: unexpected"
