"""Instructor releases: from an assignment and its reference to a validated student release.

    tensorgrade release assignments/<id> --out release/

writes `release/<id>/` and `release/<id>.zip`, but only after a gate has proved, stage by stage,
that the release is complete, holds no secret, and lets the reference pass every public check
from the release alone. The modules, one job each:

    packaging       what a release holds: the student notebook, the public spec and seed, the
                    released files, expectations.json and the zip
    leaks           what must never appear in a release (the secret index) and the scan for it
    gate            the three stages of the gate and `release_assignment`, which writes a release
                    only when they all pass
    student_check   the student side: `tensorgrade check <id>.ipynb` in a released folder
"""
