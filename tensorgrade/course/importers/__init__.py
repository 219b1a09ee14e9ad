"""Importers: another grader's assignment -> our single source (solutions/<id>/<id>.py), built.

`tensorgrade import nbgrader SOURCE.ipynb --id ID` (importers/nbgrader.py). An import is all or
nothing: everything is written into a temporary course folder, built there (course/build.py), and
only then moved into place; a failure names the source notebook's cell and the reason.
"""
