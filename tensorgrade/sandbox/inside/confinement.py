"""Confining the student's process, inside the sandbox: applied in a freshly forked child before any
student code runs (own uid, rlimits, no_new_privs, landlock, seccomp), and ending its whole process
tree afterwards. Each layer that cannot be applied is returned by name, never skipped silently."""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from tensorgrade.sandbox.grader_only import grader_only_files, under
from tensorgrade.sandbox.limits import Limits

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
        inside = [h for h in hidden if under(h, path)]
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


def live_processes() -> list[tuple[int, int, int]]:
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
    for pid, ppid, _ in live_processes():
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
                if not any(u == uid and p != me for p, _, u in live_processes()):
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


def unreadable_runtime() -> list[str]:
    """What grading needs that this confined process cannot read: the standard library, torch and
    numpy where loaded. A sandbox in which they cannot be imported would fail every student's
    cells for the grader's reasons (a host whose Python the student uid cannot read), so the
    supervisor turns this into a grader error, never a score."""
    import sys

    folders = {"the standard library": os.path.dirname(os.__file__)}
    for name in ("torch", "numpy"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            folders[name] = os.path.dirname(module.__file__)
    problems = []
    for what, folder in folders.items():
        try:
            os.listdir(folder)
            with open(os.path.join(folder, "os.py" if what == "the standard library" else "__init__.py"), "rb"):
                pass
        except OSError as exc:
            problems.append(f"{what} ({folder}) cannot be read by the student's process: {exc.strerror or exc}")
    return problems
