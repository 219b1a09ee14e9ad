"""Isolation layers: which of them this host has (`tensorgrade doctor`, each result's `isolation` field).

The layers are applied elsewhere: the bubblewrap command line by `host/bwrap.py`, the
per-submission layers inside the sandbox by `inside/confinement.py`. Every layer either works or
is reported missing with the reason; none is skipped silently.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from tensorgrade.sandbox.host.uids import STUDENT_UID_BASE, grader_is_root

LAYER_DESCRIPTIONS = {
    "namespaces": "bubblewrap: private mount, pid, ipc, uts and network namespaces; only listed paths visible",
    "network": "no network: an empty network namespace and a seccomp filter on internet sockets",
    "uid": "student code runs as an unprivileged uid of its own, distinct from the grader's processes",
    "seccomp": "seccomp filter: no internet/packet sockets, ptrace, mount, namespaces or kernel keyrings",
    "landlock": "landlock: reads limited to system and library paths, writes to the work folder only",
    "rlimits": "limits on memory, CPU time, file size, open files and processes",
    "no_new_privs": "no setuid escalation (PR_SET_NO_NEW_PRIVS)",
    "process_tree_kill": "every process a submission starts is killed when it ends",
}


@dataclass
class LayerStatus:
    active: bool
    detail: str

    def to_json(self) -> dict:
        return {"active": self.active, "detail": self.detail}


@dataclass
class IsolationReport:
    layers: dict[str, LayerStatus] = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        return [name for name, layer in self.layers.items() if not layer.active]

    def to_json(self) -> dict:
        return {name: layer.to_json() for name, layer in self.layers.items()}


def find_bwrap() -> str | None:
    return shutil.which("bwrap")


def _bwrap_works(bwrap: str) -> tuple[bool, str]:
    try:
        proc = subprocess.run(
            [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
            capture_output=True, text=True, timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap failed to start: {exc}"
    if proc.returncode != 0:
        return False, f"bwrap cannot create namespaces here: {proc.stderr.strip()[:200]}"
    return True, "bwrap " + (subprocess.run([bwrap, "--version"], capture_output=True, text=True).stdout.strip())


def seccomp_available() -> tuple[bool, str]:
    try:
        import pyseccomp  # noqa: F401
    except Exception as exc:  # the library loads libseccomp.so through ctypes at import
        return False, f"pyseccomp unavailable ({exc}); install libseccomp2 and pyseccomp"
    return True, "pyseccomp with libseccomp"


def landlock_abi() -> int:
    try:
        import landlock

        return int(landlock.landlock_abi_version())
    except Exception:
        return 0


def detect_layers() -> IsolationReport:
    """What this host can enforce, as the grader will use it (same answer as `tensorgrade doctor`)."""
    report = IsolationReport()
    bwrap = find_bwrap()
    if bwrap is None:
        hint = "apt-get install bubblewrap" if sys.platform.startswith("linux") else "Linux only"
        report.layers["namespaces"] = LayerStatus(False, f"bwrap not found ({hint})")
        bwrap_ok = False
    else:
        bwrap_ok, detail = _bwrap_works(bwrap)
        report.layers["namespaces"] = LayerStatus(bwrap_ok, detail)
    seccomp_ok, seccomp_detail = seccomp_available()
    report.layers["network"] = LayerStatus(
        bwrap_ok or seccomp_ok,
        "empty network namespace" + (" + seccomp socket filter" if seccomp_ok else "")
        if bwrap_ok else ("seccomp socket filter only" if seccomp_ok else "no layer can cut the network"),
    )
    if grader_is_root():
        report.layers["uid"] = LayerStatus(True, f"student code runs as a uid of its own from {STUDENT_UID_BASE} on, one per worker")
    else:
        report.layers["uid"] = LayerStatus(
            False, "grader is not root: student code shares the grader's uid (landlock and "
                   "no-dumpable keep it from the grader's files and memory)")
    report.layers["seccomp"] = LayerStatus(seccomp_ok, seccomp_detail)
    abi = landlock_abi()
    report.layers["landlock"] = LayerStatus(abi >= 1, f"landlock ABI {abi}" if abi else "landlock not supported by this kernel")
    report.layers["rlimits"] = LayerStatus(True, "RLIMIT_AS, CPU, FSIZE, NOFILE, NPROC, CORE")
    report.layers["no_new_privs"] = LayerStatus(True, "prctl(PR_SET_NO_NEW_PRIVS)")
    report.layers["process_tree_kill"] = LayerStatus(
        True, "pid namespace + kill by uid" if (bwrap_ok and grader_is_root())
        else "subreaper + /proc descendant walk")
    return report
