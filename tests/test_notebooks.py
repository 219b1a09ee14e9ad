import json

import nbformat
import pytest

from tensorgrade.submission.notebooks import InvalidNotebook, read_notebook


def test_reads_code_cells_with_their_notebook_index(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hi"), nbformat.v4.new_code_cell("x = 1")])
    path = tmp_path / "ok.ipynb"
    nbformat.write(nb, path)
    assert read_notebook(path).cells == [(1, "x = 1")]


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"{\"cells\": [", "not valid notebook JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"import torch\nprint(1)\n", "a Python script or another file renamed"),
    (json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}).encode(), "nbformat 3"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "code"}], "metadata": {}}).encode(),
     "not a valid nbformat-4 notebook"),
    (json.dumps([1, 2]).encode(), "not a Jupyter notebook"),
])
def test_invalid_files_say_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(InvalidNotebook, match=message):
        read_notebook(path)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidNotebook, match="not found"):
        read_notebook(tmp_path / "nope.ipynb")
