"""Isolation layers: what confines a submission's process, and which of them this host has.

Outside the sandbox (grader side): `detect_layers` for `tensorgrade doctor` and each result's
`isolation` field, and `sandbox_command` for the bubblewrap command line a worker starts under.
Inside the sandbox (worker side): `confine_student` applies the per-submission layers to a freshly
forked child before any student code runs, and `kill_student_processes` ends its whole tree.

Every layer either works or is reported missing with the reason; none is skipped silently.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

STUDENT_UID_BASE = 64000  # student processes run as a uid from 64000 on when the grader is root
STUDENT_UID_COUNT = 1000


class StudentUid:
    """A student uid held by one worker, host-wide: graders running side by side (two TAs, a test
    run beside a batch) never share one, since killing by uid and the process-count limit are per
    uid. The claim is an flock on a root-only lock file, released when the worker closes or the
    grader dies."""

    def __init__(self, uid: int, handle):
        self.uid = uid
        self._handle = handle

    @classmethod
    def claim(cls, preferred: int) -> "StudentUid":
        import fcntl

        base = Path("/run/lock") if os.access("/run/lock", os.W_OK) else Path("/tmp")
        folder = base / "tensorgrade-student-uids"
        folder.mkdir(mode=0o700, exist_ok=True)
        candidates = [preferred, *range(STUDENT_UID_BASE, STUDENT_UID_BASE + STUDENT_UID_COUNT)]
        for uid in candidates:
            handle = open(folder / f"{uid}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            return cls(uid, handle)
        raise RuntimeError(f"all {STUDENT_UID_COUNT} student uids from {STUDENT_UID_BASE} are held by running graders")

    def release(self) -> None:
        if not self._handle.closed:
            self._handle.close()

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


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 6144  # RLIMIT_AS: torch's virtual size grows with threads, 4-8 GB is needed
    cpu_seconds: int = 600
    file_size_mb: int = 256
    max_processes: int = 256
    open_files: int = 1024


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


# --------------------------------------------------------------------------------------------
# Grader side
# --------------------------------------------------------------------------------------------

def find_bwrap() -> str | None:
    return shutil.which("bwrap")


def grader_is_root() -> bool:
    return os.geteuid() == 0


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


def grader_only_files() -> list[Path]:
    """Files inside folders a sandbox must see (the virtualenv) that no submission may read: the
    dataset the held-out rows are cut from, whose labels decide held-out grades.  Inside bubblewrap
    they are covered by an empty file; landlock leaves them out of its read rules."""
    try:
        from tensorgrade.course import datasets

        return [path for path in datasets.raw_data_files() if path.exists()]
    except Exception:  # the dataset's package is not installed: nothing to hide
        return []


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


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
        if any(_under(hidden.resolve(), Path(path).resolve()) for path in read_only):
            cmd += ["--ro-bind", "/dev/null", str(hidden.resolve())]
    for host, inside in binds.items():
        parents(inside)
        cmd += ["--bind", str(host), inside]
    cmd += ["--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += ["--chdir", "/tmp", "--"]
    return cmd + argv


# --------------------------------------------------------------------------------------------
# Sandbox side: applied in a freshly forked child, before any student code
# --------------------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def become_subreaper() -> None:
    """Orphans of the submission reparent to us, so the whole tree stays findable."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def make_undumpable() -> None:
    """Same-uid processes can no longer ptrace us or read /proc/<pid>/mem and environ."""
    prctl(PR_SET_DUMPABLE, 0)


def apply_rlimits(limits: Limits, nproc: bool) -> None:
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
    # soft < hard: the soft limit raises a catchable SIGXCPU before SIGKILL at the hard one
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * mb, limits.file_size_mb * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))


def drop_to_uid(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def readable_paths(read_paths: list[str], hidden: list[Path]) -> list[str]:
    """`read_paths`, with every folder that contains a hidden file replaced by its other entries
    (recursively), since landlock can only allow, not deny, below an allowed folder."""
    hidden = [Path(os.path.realpath(h)) for h in hidden]
    allowed: list[str] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        path = Path(os.path.realpath(path))  # a link (a venv's lib64) is allowed as what it points to
        if path in seen or not path.exists():
            return
        seen.add(path)
        inside = [h for h in hidden if _under(h, path)]
        if not inside:
            allowed.append(str(path))
        elif path.is_dir() and path not in inside:
            for child in sorted(path.iterdir()):
                add(child)
        # else: the hidden file itself, left out

    for raw in read_paths:
        add(Path(raw))
    return allowed


_LANDLOCK_READ_RULES: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}


def landlock_read_rules(read_paths: list[str]) -> tuple[list[str], list[str]]:
    """(folders, files) a submission may read: `readable_paths` less the hidden files, split by kind.

    Computed once per worker, before it forks any submission (`prepare_landlock`), and inherited:
    walking the virtualenv around a hidden file and checking every entry costs 20-80 ms, which each
    submission's process would otherwise pay again."""
    key = tuple(read_paths)
    if key not in _LANDLOCK_READ_RULES:
        readable = readable_paths(read_paths, grader_only_files())
        folders = [p for p in readable if os.path.isdir(p)]
        kept = set(folders)
        files = [p for p in readable if p not in kept]
        _LANDLOCK_READ_RULES[key] = (folders, files)
    return _LANDLOCK_READ_RULES[key]


def prepare_landlock(read_paths: list[str]) -> None:
    """In the warm worker, before any fork: what every submission's landlock rules are built from."""
    try:
        landlock_read_rules(read_paths)
    except Exception:  # each submission tries again, and reports landlock as not applied if it fails
        pass


def apply_landlock(read_paths: list[str], write_paths: list[str]) -> None:
    from landlock import FSAccess, Ruleset

    ruleset = Ruleset()
    read = FSAccess.READ_FILE | FSAccess.READ_DIR | FSAccess.EXECUTE
    folders, files = landlock_read_rules(read_paths)
    # Directory rights on a file make landlock refuse the whole rule: files get file rights only.
    for paths, rules in ((folders, read), (files, FSAccess.READ_FILE | FSAccess.EXECUTE)):
        for path in paths:
            try:
                ruleset.allow(path, rules=rules)
            except FileNotFoundError:  # gone since the worker listed it: nothing left to allow
                pass
    # /dev/null, /dev/urandom etc. are written to by ordinary libraries
    ruleset.allow("/dev", rules=read | FSAccess.WRITE_FILE | FSAccess.IOCTL_DEV)
    ruleset.allow(*write_paths, rules=FSAccess.all())
    ruleset.apply()


def apply_seccomp() -> None:
    import pyseccomp as sc

    flt = sc.SyscallFilter(defaction=sc.ALLOW)
    deny = sc.ERRNO(errno.EPERM)
    for family in (socket.AF_INET, socket.AF_INET6, socket.AF_PACKET):
        flt.add_rule(deny, "socket", sc.Arg(0, sc.EQ, family))
    # AF_NETLINK and AF_UNIX stay: libraries (and bwrap) use them locally.
    for name in ("ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2",
                 "pivot_root", "unshare", "setns", "keyctl", "add_key", "request_key",
                 "bpf", "perf_event_open", "userfaultfd", "kexec_load", "init_module",
                 "finit_module", "delete_module", "reboot", "swapon", "swapoff", "chroot",
                 "open_by_handle_at", "name_to_handle_at",
                 # System V IPC objects and POSIX message queues outlive the process that made them:
                 # one submission could leave data there for the next one on the same worker.
                 "shmget", "msgget", "semget", "mq_open"):
        try:
            flt.add_rule(deny, name)
        except Exception:  # syscall unknown on this architecture
            continue
    flt.load()


@dataclass(frozen=True)
class StudentConfinement:
    uid: int | None  # None: stay as the worker's uid (grader not root)
    limits: Limits
    work_dir: str
    read_paths: list[str]
    # Writable besides the work folder: only a sandbox-private /dev/shm, never a host folder.
    extra_write_paths: tuple[str, ...] = ()


def confine_student(conf: StudentConfinement) -> dict[str, str]:
    """Apply every per-process layer; returns {layer: problem} for any that could not be applied."""
    problems: dict[str, str] = {}
    try:
        apply_rlimits(conf.limits, nproc=conf.uid is not None)
    except (OSError, ValueError) as exc:
        problems["rlimits"] = str(exc)
    if conf.uid is not None:
        drop_to_uid(conf.uid)  # failure to drop must abort the submission, never continue as root
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError as exc:
        problems["no_new_privs"] = str(exc)
    try:
        apply_landlock(conf.read_paths, [conf.work_dir, *conf.extra_write_paths])
    except Exception as exc:
        problems["landlock"] = f"{type(exc).__name__}: {exc}"
    try:
        apply_seccomp()
    except Exception as exc:
        problems["seccomp"] = f"{type(exc).__name__}: {exc}"
    return problems


def _live_processes() -> list[tuple[int, int, int]]:
    """(pid, ppid, uid) of every process that is not a zombie (zombies only need reaping)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
            uid = os.stat(f"/proc/{entry}").st_uid
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if fields[0] in (b"Z", b"X"):
            continue
        found.append((int(entry), int(fields[1]), uid))
    return found


def _descendants(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid, _ in _live_processes():
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [root_pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _kill_all_of_uid(uid: int) -> None:
    """kill(-1) as the student's uid reaches exactly that uid's processes in our pid namespace."""
    pid = os.fork()
    if pid == 0:
        try:
            drop_to_uid(uid)
            me = os.getpid()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    os.kill(-1, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    break
                if not any(u == uid and p != me for p, _, u in _live_processes()):
                    break
                time.sleep(0.002)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def kill_student_processes(root_pid: int | None, uid: int | None) -> None:
    """Kill the submission's process and everything it started, then reap the zombies.

    Relies on this process being a child subreaper, so daemonised grandchildren are ours too.
    """
    if uid is not None:
        _kill_all_of_uid(uid)
    for _ in range(50):
        reap_children()
        pids = _descendants(os.getpid())
        alive = False
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                alive = True
            except ProcessLookupError:
                pass
            except PermissionError:
                pass
        reap_children()
        if not alive:
            break
        time.sleep(0.01)


def reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
