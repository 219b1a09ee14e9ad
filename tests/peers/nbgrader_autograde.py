"""Run by the nbgrader venv's python (never ours): nbgrader 0.9.6 grades a course as a course would.

    nbgrader_autograde.py SPEC.json OUT.json

SPEC: {"course": folder, "assignments": {name: {"source": [[file, name], ...],
                                               "submissions": {student: [[file, name], ...]}}}}.
Writes a fresh nbgrader course there (source/<assignment>/, submitted/<student>/<assignment>/), runs
`nbgrader generate_assignment` and `nbgrader autograde` for each assignment, and writes every grade
cell's points from nbgrader's own gradebook:
{assignment: {student: {notebook: {grade_id: {"auto": points or None (left to a TA), "max": m}}}}}.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from nbgrader.api import Gradebook


def main():
    spec = json.loads(Path(sys.argv[1]).read_text())
    course = Path(spec["course"])
    course.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = %r\nc.CourseDirectory.db_url = 'sqlite:///%s/gradebook.db'\n"
        % (str(course), str(course)))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}  # nbgrader calls `alembic`
    for assignment, parts in spec["assignments"].items():
        (course / "source" / assignment).mkdir(parents=True)
        for name, as_name in parts["source"]:
            shutil.copy(name, course / "source" / assignment / as_name)
        for student, files in parts["submissions"].items():
            folder = course / "submitted" / student / assignment
            folder.mkdir(parents=True)
            for name, as_name in files:
                shutil.copy(name, folder / as_name)
        for command in (["generate_assignment", assignment, "--force"], ["autograde", assignment, "--force"]):
            done = subprocess.run([str(bin_dir / "nbgrader"), *command], cwd=course, capture_output=True, text=True,
                                  env=env)
            if done.returncode != 0:
                sys.exit(f"nbgrader {' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    scores = {}
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        for assignment, parts in spec["assignments"].items():
            scores[assignment] = {}
            for student in parts["submissions"]:
                submission = gb.find_submission(assignment, student)
                scores[assignment][student] = {
                    nb.name: {g.name: {"auto": g.auto_score, "max": g.max_score} for g in nb.grades}
                    for nb in submission.notebooks}
    Path(sys.argv[2]).write_text(json.dumps(scores, indent=1))


if __name__ == "__main__":
    main()
