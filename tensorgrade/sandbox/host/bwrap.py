"""The bubblewrap sandbox a worker starts in: what it sees (read-only system, Python and this
package; a private /tmp and /dev/shm; the job folder) and what stays hidden (everything else)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tensorgrade.sandbox.grader_only import grader_only_files, under
from tensorgrade.sandbox.host.layers import find_bwrap

def _python_prefixes() -> list[Path]:
    """Folders a sandboxed Python needs: its installation and the virtual environment."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent}
    return sorted(paths)


def package_root() -> Path:
    import tensorgrade

    return tensorgrade.package_dir()


# Not /opt: a grading host may keep anything there (a course's solutions, a package mirror); a Python
# installed under /opt is still visible through _python_prefixes().
SHARED_MEMORY_DIR = "/dev/shm"
SHARED_MEMORY_MB = 256
SYSTEM_READ_ONLY = ["/usr", "/etc"]
SYSTEM_SYMLINKS = {"/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64"}


def sandbox_read_only_paths(extra: list[Path] = ()) -> list[Path]:
    """Everything a worker sees, read-only: system folders, Python, this package, and `extra`.

    The repository (with solutions/), home folders, the gradebook and submissions are not listed,
    so they do not exist inside the sandbox.
    """
    paths = [Path(p) for p in SYSTEM_READ_ONLY if Path(p).exists()]
    paths += _python_prefixes()
    paths.append(package_root())
    paths += [Path(p).resolve() for p in extra]
    unique: list[Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(parent == path or parent in path.parents for parent in unique):
            unique.append(path)
    return unique



def sandbox_command(argv: list[str], *, read_only: list[Path], binds: dict[Path, str],
                    tmp_size_mb: int, env: dict[str, str], root: bool) -> list[str]:
    """The bubblewrap command line for a worker.

    `read_only` host paths appear at the same place, `binds` maps host folders to writable places
    inside (the job folder).  As root, the worker keeps only the capabilities it needs to drop each
    submission to its own uid and to clean up after it; everything else is dropped.
    """
    bwrap = find_bwrap()
    assert bwrap is not None
    cmd = [bwrap, "--die-with-parent", "--new-session",
           "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if root:
        cmd += ["--cap-drop", "ALL"]
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_FOWNER", "CAP_DAC_OVERRIDE"):
            cmd += ["--cap-add", cap]
    else:
        cmd += ["--unshare-user"]
    made: set[str] = {"/"}

    def parents(target: str) -> None:
        # bwrap creates missing parents 0700, which would hide the venv from the student's uid.
        for parent in reversed(Path(target).parents):
            if str(parent) not in made:
                made.add(str(parent))
                cmd.extend(["--perms", "0755", "--dir", str(parent)])

    for link, target in SYSTEM_SYMLINKS.items():
        if os.path.islink(link):
            cmd += ["--symlink", target, link]
        elif os.path.isdir(link):
            read_only = [*read_only, Path(link)]
    # The private /tmp first: a checkout or virtualenv that lives under the host's /tmp (a CI clone)
    # is then bound on top of it instead of being hidden by it.
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "0755", "--size", str(tmp_size_mb * 1024 * 1024),
            "--tmpfs", "/tmp"]
    # A private /dev/shm (the host's is shared by everyone): POSIX semaphores and shared tensors live
    # there, which DataLoader(num_workers > 0) needs. The supervisor wipes it around every submission.
    cmd += ["--perms", "1777", "--size", str(SHARED_MEMORY_MB * 1024 * 1024), "--tmpfs", SHARED_MEMORY_DIR]
    made.update({"/proc", "/dev", "/tmp", SHARED_MEMORY_DIR})
    for path in read_only:
        parents(str(path))
        cmd += ["--ro-bind", str(path), str(path)]
        made.add(str(path))
    for hidden in grader_only_files():
        if any(under(hidden.resolve(), Path(path).resolve()) for path in read_only):
            cmd += ["--ro-bind", "/dev/null", str(hidden.resolve())]
    for host, inside in binds.items():
        parents(inside)
        cmd += ["--bind", str(host), inside]
    cmd += ["--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += ["--chdir", "/tmp", "--"]
    return cmd + argv
