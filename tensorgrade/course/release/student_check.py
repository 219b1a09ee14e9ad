"""The student side of a release: `tensorgrade check <id>.ipynb` in the released folder runs the
public checks in the same sandbox as grading, judged against the release's expectations
(`check_notebook`), from the release alone (no solutions folder anywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tensorgrade.sandbox import transport
from tensorgrade.course.assignment import Assignment, CheckSpec, SpecError, load_assignment
from tensorgrade.course.release.packaging import EXPECTATIONS_FILE, SPEC_FILE, public_seed_of, public_sources_digest
from tensorgrade.sandbox.host.jobs import ProbeRecord
from tensorgrade.grading.grader import Grader, ReferenceOutputs
from tensorgrade.submission.notebooks import LockedCell
from tensorgrade.grading.results import SubmissionResult


class ReleaseError(RuntimeError):
    """A released folder that cannot be used for student-side checks (the message says why)."""


@dataclass
class OpenedRelease:
    assignment: Assignment  # public checks only
    public_seed: int
    reference: ReferenceOutputs
    locked: list[LockedCell]

    @property
    def hidden_checks(self) -> list[CheckSpec]:
        return [spec for spec in self.assignment.checks if spec.visibility == "hidden"]


def find_release_folder(notebook: Path) -> Path:
    """The released folder a notebook belongs to: its own folder or the nearest parent holding
    both assignment.yaml and expectations.json."""
    for folder in [notebook.resolve().parent, *notebook.resolve().parent.parents]:
        if (folder / SPEC_FILE).is_file() and (folder / EXPECTATIONS_FILE).is_file():
            return folder
    raise ReleaseError(f"{notebook}: no released assignment found beside it or above it (a released folder "
                       f"holds {SPEC_FILE} and {EXPECTATIONS_FILE})")


def open_release(folder: Path | str) -> OpenedRelease:
    folder = Path(folder).resolve()
    expectations_path = folder / EXPECTATIONS_FILE
    if not expectations_path.is_file():
        raise ReleaseError(f"{folder}: no {EXPECTATIONS_FILE}: not a released assignment (build one with "
                           "`tensorgrade release`)")
    try:
        assignment = load_assignment(folder, with_hidden=False)
        data = transport.loads(expectations_path.read_bytes())
    except (SpecError, transport.TransportError) as exc:
        raise ReleaseError(f"{folder}: {exc}") from None
    public_seed = public_seed_of(assignment)
    if (data.get("assignment"), data.get("version"), data.get("public_seed")) != \
            (assignment.id, assignment.version, public_seed):
        raise ReleaseError(f"{expectations_path}: computed for {data.get('assignment')} v{data.get('version')} "
                           f"(seed {data.get('public_seed')}), not for {assignment.id} v{assignment.version} "
                           f"(seed {public_seed}): download the release again")
    if data.get("public_sources") != public_sources_digest(folder):
        raise ReleaseError(f"{folder}: checks.py or probes.py changed since the release was built, so the "
                           "stored expectations no longer apply: restore them from the release")
    reference = {check: ProbeRecord(**record) for check, record in data["reference"].items()}
    missing = [spec.id for spec in assignment.checks if spec.visibility == "public" and spec.id not in reference]
    if missing:
        raise ReleaseError(f"{expectations_path}: no expectations for public check(s) {missing}")
    mistakes = {name: {check: ProbeRecord(**record) for check, record in records.items()}
                for name, records in data.get("mistakes", {}).items()}
    locked = [LockedCell(**cell) for cell in data.get("locked_cells", [])]
    return OpenedRelease(assignment=assignment, public_seed=public_seed,
                         reference=ReferenceOutputs(fingerprint=f"release-{public_seed}", reference=reference,
                                                    mistakes=mistakes),
                         locked=locked)


def check_notebook(folder: Path | str, notebook: Path | str, jobs: int = 1) -> tuple[SubmissionResult, OpenedRelease]:
    """Run a released assignment's public checks on a notebook, from the release alone."""
    release = open_release(folder)
    with Grader(release.assignment, jobs=jobs, seed=release.public_seed, reference=release.reference,
                locked=release.locked) as grader:
        return grader.grade(notebook), release
