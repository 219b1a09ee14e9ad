"""Importers: another grader's assignment -> our single source (solutions/<id>/<id>.py), built.

`tensorgrade import nbgrader SOURCE.ipynb --id ID` (importers/nbgrader.py) and `tensorgrade import
otter MASTER.ipynb --id ID` (importers/otter.py). An import is all or nothing: everything is written
into a temporary course folder, built there and only then moved into place (course/build.py
`build_staged`); a failure names the source notebook's cell and the reason.
"""
