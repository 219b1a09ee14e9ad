"""Side-by-side benchmark: nbgrader, otter-grader, ours and the warm-process floor on the same course.

    .bench-venv/bin/python bench/run_bench.py [--peers-dir ../shared/peers] [--n 20] [--n-large 100]

(`make bench` builds .bench-venv and runs this.) The course is the peers' `torchdl` (PyTorch: numpy
backprop, a custom autograd Function, a training loop), written by their make_course.py with N
submissions of 11 kinds (correct, wrong gradient, missing zero_grad, exceptions, stubs, ...) and the
expected per-question points. Every grader is run as a user runs it, under the peers' measure.py
(wall time, peak RSS summed over the whole process tree, sampled every 20 ms):

  nbgrader   `nbgrader autograde torchdl`, one batch call (after `generate_assignment`, not timed)
  otter      `otter run`, one call per submission (its batch `otter grade` needs Docker)
  floor      the peers' ref_exec.py: every submission's code and tests exec'd in ONE warm process,
             no isolation, no timeouts: the physical lower bound, not a grader
  ours       `tensorgrade grade bench/torchdl <the nbgrader submission folder> --solutions ... -j 1`
             and `-j 2`, full isolation (bubblewrap, own uid, seccomp, landlock, rlimits), grading
             the very notebooks nbgrader grades; the reference is computed once beforehand (cached in
             bench/torchdl_solutions/.cache, like nbgrader's generate_assignment), reported as setup

Ours and the floor run --repeat times at N, interleaved (ours -j 1, floor, ours -j 2, again), so
that they see comparable load, and once more at --n-large (how the cost grows); then the peak PSS
of ours and the floor in separate, untimed runs (bench/pss.py). Each timed command records the
1-minute load average at its start and end, its own CPU time (a cgroup around its process tree),
and the CPU load of *other* processes during it (all CPU time spent on the machine, from
/proc/stat, less the command's and the measuring's). With --wait-quiet S the benchmark first waits
(S seconds at most in all) for other processes to use less than --quiet-load CPUs, and with
--retries R a run of ours or the floor disturbed by more than --max-foreign is run again.

Everything goes under --out (bench/out): course/, course-N/, raw/ (measure.jsonl, logs, scores),
results.csv and RESULTS.md (the table printed at the end); the table also goes to bench/RESULTS.md
(--results), which is committed as the latest measurement.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ("q1", "q2", "q3")


def _busy_cpu_seconds() -> float:
    """CPU seconds spent by the whole machine so far (every core, all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / ticks


class CpuGroup:
    """A cgroup whose CPU-time counter covers a command and every process under it, sandboxed ones
    included (getrusage misses processes that a sandbox's init reaps). None where no cgroup can be made."""

    COUNTERS = (("/sys/fs/cgroup/cpuacct", "cpuacct.usage", 1e-9), ("/sys/fs/cgroup/unified", "cpu.stat", 1e-6),
                ("/sys/fs/cgroup", "cpu.stat", 1e-6))

    def __init__(self, path: Path, counter: str, scale: float):
        self.path, self.counter, self.scale = path, counter, scale

    @classmethod
    def make(cls, name: str, root: Path | None = None) -> "CpuGroup | None":
        for base, counter, scale in cls.COUNTERS:
            if not os.path.isfile(os.path.join(base, counter)):
                continue
            if root is not None and not str(root).startswith(base + "/"):
                continue
            path = (root or Path(base)) / name
            try:
                path.mkdir(exist_ok=True)
                if (path / counter).is_file() and (path / "cgroup.procs").is_file():
                    return cls(path, counter, scale)
                path.rmdir()
            except OSError:
                continue
        return None

    def child(self, name: str) -> "CpuGroup | None":
        """A group nested in this one: its time is counted in this one's too."""
        return CpuGroup.make(name, root=self.path)

    def join(self) -> None:  # in the child, before exec
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def wrap(self, cmd: list[str]) -> list[str]:
        """`cmd`, run so that it (and only it, not the process that starts it) is in this group."""
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *cmd]

    def seconds(self) -> float:
        text = (self.path / self.counter).read_text()
        if self.counter == "cpu.stat":
            text = next(line.split()[1] for line in text.splitlines() if line.startswith("usage_usec"))
        return int(text) * self.scale

    def remove(self) -> None:
        for _ in range(50):  # a killed process can keep the group busy for a moment
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


class Bench:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out).resolve()
        self.raw = self.out / "raw"
        self.logs = self.raw / "logs"
        self.peers = Path(args.peers_dir).resolve()
        self.venv_bin = Path(sys.executable).parent
        self.py = sys.executable
        self.ag = str(Path(args.tensorgrade).resolve())
        self.measure_file = self.raw / "measure.jsonl"
        self.loads: list[float] = []
        self.quiet_budget = args.wait_quiet
        self.groups = 0
        self.started = time.time()
        home = self.out / "home"
        self.env = dict(os.environ, PATH=f"{self.venv_bin}:{os.environ.get('PATH', '')}",
                        JUPYTER_CONFIG_DIR=str(home / "jupyter_config"),
                        JUPYTER_RUNTIME_DIR=str(home / "jupyter_runtime"),
                        JUPYTER_DATA_DIR=str(home / "jupyter_data"),
                        IPYTHONDIR=str(home / "ipython"), PYTHONWARNINGS="ignore::DeprecationWarning")

    # -- helpers ---------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(f"== [{time.time() - self.started:6.0f}s, load {os.getloadavg()[0]:.2f}] {text}", flush=True)

    def sample_load(self) -> None:
        self.loads.append(os.getloadavg()[0])

    def other_load_now(self, seconds: float = 2.0) -> float:
        """CPU load from other processes right now (this benchmark runs nothing while it looks)."""
        before = _busy_cpu_seconds()
        time.sleep(seconds)
        return (_busy_cpu_seconds() - before) / seconds

    def gate(self) -> None:
        """Wait (within the --wait-quiet budget) until other processes use less than --quiet-load CPUs."""
        while self.quiet_budget > 0:
            load = self.other_load_now()
            if load <= self.args.quiet_load:
                return
            self.say(f"waiting for a quiet machine (other processes use {load:.2f} CPUs > {self.args.quiet_load})")
            time.sleep(8)
            self.quiet_budget -= 10

    def measure(self, tool: str, label: str, cmd: list[str], cwd: Path | None = None, student: str = "",
                log: str | None = None, retries: int = 0) -> dict:
        """One command under the peers' measure.py; a run disturbed by other processes (their CPU load
        above --max-foreign) is recorded as discarded and run again, up to `retries` times.

        CPU time is counted in two nested cgroups: the outer one holds measure.py (its sampling of the
        process tree every 20 ms costs CPU too), the inner one only the command and its processes.
        `own_cpu_s` is the command's; `foreign_load` is everything else the machine ran meanwhile."""
        log_path = self.logs / (log or f"{tool}_{label}{'_' + student if student else ''}.log".replace(" ", "_"))
        for attempt in range(retries + 1):
            if not student:
                self.gate()
            load_start = os.getloadavg()[0]
            self.sample_load()
            busy_before = _busy_cpu_seconds()
            scratch = self.raw / "last_measure.jsonl"
            scratch.unlink(missing_ok=True)
            argv = [self.py, str(self.peers / "measure.py"), "--out", str(scratch), "--tool", tool,
                    "--label", label, "--log", str(log_path)]
            if student:
                argv += ["--student", student]
            self.groups += 1
            outer = CpuGroup.make(f"tensorgrade-bench-{os.getpid()}-{self.groups}")
            inner = outer.child("command") if outer is not None else None
            subprocess.run(argv + ["--", *(inner.wrap(cmd) if inner else cmd)], cwd=cwd, env=self.env, check=True,
                           stderr=subprocess.DEVNULL if student else None,
                           preexec_fn=outer.join if outer else None)
            busy = _busy_cpu_seconds() - busy_before
            self.sample_load()
            record = json.loads(scratch.read_text().splitlines()[-1])
            record["cmd"] = " ".join(cmd)
            record["load_start"], record["load_end"] = round(load_start, 2), round(os.getloadavg()[0], 2)
            # Load from anything else on the machine during this command: all CPU time spent, less the
            # command's own and the measuring's (counted by the cgroups), per second of wall time.
            if outer is not None:
                total = outer.seconds()
                own = inner.seconds() if inner is not None else total
                if inner is not None:
                    inner.remove()
                outer.remove()
                record["own_cpu_s"] = round(own, 2)
                record["harness_cpu_s"] = round(total - own, 2)
                record["foreign_load"] = round(max(0.0, busy - total) / record["wall_s"], 3)
            record["discarded"] = (attempt < retries and outer is not None
                                   and record["foreign_load"] > self.args.max_foreign)
            with open(self.measure_file, "a") as f:
                f.write(json.dumps(record) + "\n")
            if not record["discarded"]:
                return record
            self.say(f"  discarded: other processes used {record['foreign_load']:.2f} CPUs during it; again")
        return record

    def wait_quiet(self) -> None:
        deadline = time.time() + self.args.wait_quiet
        while self.args.wait_quiet > 0 and os.getloadavg()[0] > 0.5 and time.time() < deadline:
            self.say(f"waiting for a quiet machine (1-min load {os.getloadavg()[0]:.2f} > 0.5)")
            time.sleep(20)

    # -- steps -----------------------------------------------------------------------------------

    def course(self, n: int, name: str) -> Path:
        path = self.out / name
        subprocess.run([self.py, str(self.peers / "make_course.py"), "-n", str(n), "--out", str(path)],
                       check=True, env=self.env)
        return path

    def run_nbgrader(self, course: Path) -> None:
        root = course / "nbgrader"
        self.say("nbgrader generate_assignment (setup, once)")
        self.measure("nbgrader", "generate_assignment", ["nbgrader", "generate_assignment", "torchdl", "--force"], cwd=root)
        self.say(f"nbgrader autograde, one batch call for {self.args.n} submissions")
        self.measure("nbgrader", "autograde batch", ["nbgrader", "autograde", "torchdl"], cwd=root)
        subprocess.run([self.py, str(self.peers / "nbgrader_scores.py"), str(root), "torchdl",
                        str(self.raw / "nbgrader_scores.json")], env=self.env, check=True,
                       stderr=subprocess.DEVNULL)

    def run_otter(self, course: Path) -> None:
        root = course / "otter"
        shutil.rmtree(root / "dist", ignore_errors=True)
        self.say("otter assign (setup, once)")
        self.measure("otter", "assign", ["otter", "assign", "torchdl.ipynb", "dist"], cwd=root)
        zips = sorted((root / "dist" / "autograder").glob("*.zip"))
        if not zips:
            raise SystemExit(f"otter assign wrote no autograder zip; see {self.logs}/otter_assign.log")
        sids = sorted(p.name for p in (root / "submissions").iterdir())
        self.say(f"otter run, one call per submission ({len(sids)})")
        for sid in sids:
            target = self.raw / "otter" / sid
            target.mkdir(parents=True, exist_ok=True)
            self.measure("otter", "run", ["otter", "run", "-a", str(zips[0]), "-o", str(target), "--no-logo",
                                          f"submissions/{sid}/torchdl.ipynb"], cwd=root, student=sid)

    def run_floor(self, course: Path, label: str, repeat: int) -> None:
        for i in range(repeat):
            self.say(f"floor ({label}, run {i + 1}/{repeat}): ref_exec.py, one warm process")
            self.measure("floor", label, [self.py, str(self.peers / "ref_exec.py"), str(course),
                                          str(self.raw / f"floor_{label}_{i}.json")], log=f"floor_{label}_{i}.log",
                         retries=self.args.retries)

    def run_ours(self, course: Path, label: str, jobs: int, repeat: int) -> None:
        for i in range(repeat):
            self.say(f"ours ({label}, run {i + 1}/{repeat}): tensorgrade grade -j {jobs}")
            self.measure("ours", label, [self.ag, "grade", str(ROOT / "bench" / "torchdl"),
                                         str(course / "nbgrader" / "submitted"),
                                         "--solutions", str(ROOT / "bench" / "torchdl_solutions"),
                                         "--json", str(self.raw / f"ours_{label}_{i}.json"), "-j", str(jobs)],
                         log=f"ours_{label}_{i}.log", retries=self.args.retries)

    def ours_reference(self) -> None:
        shutil.rmtree(ROOT / "bench" / "torchdl_solutions" / ".cache", ignore_errors=True)
        self.say("ours: reference + known-mistake variants (setup, once; cached per assignment fingerprint)")
        self.measure("ours", "reference (setup)", [self.ag, "grade", str(ROOT / "bench" / "torchdl"),
                                                  str(ROOT / "bench" / "torchdl_solutions" / "solution.ipynb"),
                                                  "--solutions", str(ROOT / "bench" / "torchdl_solutions")])

    def pss(self, label: str, cmd: list[str]) -> None:
        self.say(f"peak PSS (shared pages divided among sharers) of {label}, a separate untimed run")
        subprocess.run([self.py, str(ROOT / "bench" / "pss.py"), "--out", str(self.raw / "pss.jsonl"),
                        "--label", label, "--", *cmd], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def run(self) -> None:
        a = self.args
        if self.out.exists() and not a.keep:
            for sub in ("raw", "home", "course", f"course-{a.n_large}"):
                shutil.rmtree(self.out / sub, ignore_errors=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.raw / "otter").mkdir(exist_ok=True)
        self.wait_quiet()
        info = {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                "python": platform.python_version(), "load_before": os.getloadavg(),
                "machine": platform.machine(), "kernel": platform.release(), "commit": _commit()}
        for package in ("torch", "numpy", "nbgrader", "otter-grader", "nbclient", "ipykernel"):
            try:
                from importlib.metadata import version

                info[package] = version(package)
            except Exception:
                info[package] = "?"
        self.say(f"{info['cpus']} cores; generating the course ({a.n} submissions) and a {a.n_large}-submission copy")
        course = self.course(a.n, "course")
        large = self.course(a.n_large, f"course-{a.n_large}") if a.n_large else None
        # warm the page cache of every tool once, untimed
        subprocess.run([self.py, "-c", "import torch, nbgrader.apps, otter.cli"], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([self.ag, "doctor"], stdout=open(self.raw / "doctor.txt", "w"), stderr=subprocess.STDOUT)
        self.ours_reference()
        # interleaved, so that a change of machine load does not fall on one grader only
        for i in range(a.repeat):
            self.run_ours(course, f"-j 1, N={a.n}", 1, 1)
            self.run_floor(course, f"N={a.n}", 1)
            self.run_ours(course, f"-j 2, N={a.n}", 2, 1)
        if not a.skip_peers:
            self.run_nbgrader(course)
            self.run_otter(course)
        if large is not None:
            self.run_ours(large, f"-j 1, N={a.n_large}", 1, 1)
            self.run_floor(large, f"N={a.n_large}", 1)
            self.run_ours(large, f"-j 2, N={a.n_large}", 2, 1)
        if not a.skip_pss:
            self.pss("ours -j 1", [self.ag, "grade", str(ROOT / "bench" / "torchdl"), str(course / "nbgrader" / "submitted"),
                                   "--solutions", str(ROOT / "bench" / "torchdl_solutions"), "-j", "1"])
            self.pss("ours -j 2", [self.ag, "grade", str(ROOT / "bench" / "torchdl"), str(course / "nbgrader" / "submitted"),
                                   "--solutions", str(ROOT / "bench" / "torchdl_solutions"), "-j", "2"])
            self.pss("floor", [self.py, str(self.peers / "ref_exec.py"), str(course), str(self.raw / "floor_pss.json")])
        info["load_after"] = os.getloadavg()
        info["load_samples"] = self.loads
        info["seconds"] = round(time.time() - self.started)
        (self.raw / "info.json").write_text(json.dumps(info, indent=1))
        report(self.out, a.n, a.n_large, None if a.skip_peers or a.no_results else Path(a.results))


# ------------------------------------------------------------------------------------------------
# Reporting (also usable alone: `run_bench.py --report-only`)
# ------------------------------------------------------------------------------------------------

def _commit() -> str:
    """The checkout's commit, with `+changes` when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return head + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _num(x) -> float:
    return round(float(x), 6)


def _scores_ours(path: Path, expected: dict) -> dict[str, dict[str, float]]:
    scores = {}
    for result in json.loads(path.read_text()):
        # the student id: batch mode names it; else the folder submitted/<sid>/torchdl/torchdl.ipynb
        sid = result.get("student")
        if sid not in expected:
            sid = next((part for part in Path(result["submission"]).parts if part in expected), sid)
        per_q = {q: 0.0 for q in QUESTIONS}
        for check in result.get("checks", []):
            per_q[check["question"]] = per_q.get(check["question"], 0.0) + check["points"]
        scores[sid] = per_q if result["status"] == "graded" else {}
    return scores


def _scores_floor(path: Path) -> dict[str, dict[str, float]]:
    return {row["student"]: row["scores"] for row in json.loads(path.read_text())["rows"]}


def _scores_nbgrader(path: Path) -> dict[str, dict[str, float]]:
    return {sid: r["scores"] for sid, r in json.loads(path.read_text()).items()} if path.exists() else {}


def _scores_otter(folder: Path) -> dict[str, dict[str, float]]:
    scores = {}
    for results in sorted(folder.glob("*/results.json")):
        data = json.loads(results.read_text())
        scores[results.parent.name] = {t["name"]: t["score"] for t in data.get("tests", []) if "score" in t}
    return scores


def agreement(scores: dict, expected: dict) -> tuple[int, int, int]:
    """(submissions with every question right, questions right, questions in all)."""
    subs = qs = 0
    for sid, e in expected.items():
        got = scores.get(sid, {})
        right = [q for q in QUESTIONS if q in got and _num(got[q]) == _num(e[q])]
        qs += len(right)
        subs += len(right) == len(QUESTIONS)
    return subs, qs, len(expected) * len(QUESTIONS)


def report(out: Path, n: int, n_large: int, results: Path | None = None) -> str:
    """The tables, from the raw measurements under `out`: printed, written to out/RESULTS.md and
    out/results.csv, and to `results` (bench/RESULTS.md) when given."""
    raw = out / "raw"
    info = json.loads((raw / "info.json").read_text()) if (raw / "info.json").exists() else {}
    meas = [m for m in _load_jsonl(raw / "measure.jsonl") if not m.get("discarded")]
    discarded = [m for m in _load_jsonl(raw / "measure.jsonl") if m.get("discarded")]
    pss = {r["label"]: r for r in _load_jsonl(raw / "pss.jsonl")}

    def expected_for(course: Path) -> dict:
        with open(course / "expected.csv") as f:
            return {r["student"]: r for r in csv.DictReader(f)}

    exp = expected_for(out / "course")
    exp_large = expected_for(out / f"course-{n_large}") if (out / f"course-{n_large}").exists() else {}

    def recs(tool: str, label: str) -> list[dict]:
        return [m for m in meas if m["tool"] == tool and m["label"] == label]

    rows = []

    def loads(records) -> str:
        return ", ".join(f"{r['load_start']:.1f}→{r['load_end']:.1f}" for r in records if "load_start" in r)

    def add(grader, mode, nsub, records, agree, note="", pss_mb=None, summed=False):
        """One row; `summed`: the records are one call per submission (otter), added up."""
        if summed:
            wall, cpu = sum(r["wall_s"] for r in records), sum(r.get("own_cpu_s", 0.0) for r in records)
            foreign = (sum(r["foreign_load"] * r["wall_s"] for r in records) / wall
                       if all("foreign_load" in r for r in records) else None)
            load = (f"{records[0]['load_start']:.1f}→{records[-1]['load_end']:.1f}"
                    if "load_start" in records[0] else "")
            runs = 1
        else:
            wall = statistics.median(r["wall_s"] for r in records)
            cpu = statistics.median(r.get("own_cpu_s", 0.0) for r in records)
            values = [r["foreign_load"] for r in records if "foreign_load" in r]
            foreign = max(values) if values else None
            load, runs = loads(records), len(records)
        rows.append({"grader": grader, "mode": mode, "N": nsub, "runs": runs, "total_s": wall,
                     "s_per_sub": wall / nsub, "cpu_s": cpu or None, "cpu_per_sub": (cpu / nsub) or None,
                     "peak_rss_mb": max(r["peak_tree_rss_mb"] for r in records), "peak_pss_mb": pss_mb,
                     "agree": agree, "load_avg": load, "other_load": foreign, "note": note, "records": records})
        return rows[-1]

    def agree_str(scores, expected):
        subs, qs, total = agreement(scores, expected)
        return f"{subs}/{len(expected)} ({qs}/{total} q)"

    r = recs("nbgrader", "autograde batch")
    nbg = add("nbgrader 0.9.6", "autograde, one batch call", n, r,
              agree_str(_scores_nbgrader(raw / "nbgrader_scores.json"), exp), "fresh kernel per notebook") if r else None
    r = recs("otter", "run")
    otter = add("otter-grader 7.0.0", "otter run, one call per submission", len(r), r,
                agree_str(_scores_otter(raw / "otter"), exp), "batch `otter grade` needs Docker", summed=True) if r else None

    def floor_row(nsub, expected):
        r = recs("floor", f"N={nsub}")
        if not r:
            return None
        runs = sorted(raw.glob(f"floor_N={nsub}_*.json"))
        return add("floor (ref_exec.py)", "exec in one warm process, no isolation", nsub, r,
                   agree_str(_scores_floor(runs[-1]), expected), "lower bound, not a grader",
                   pss.get("floor", {}).get("peak_pss_mb") if nsub == n else None)

    def ours_row(jobs, nsub, expected):
        label = f"-j {jobs}, N={nsub}"
        r = recs("ours", label)
        if not r:
            return None
        runs = sorted(raw.glob(f"ours_{label}_*.json"))
        scores = _scores_ours(runs[-1], expected)
        errors = sum(1 for s in scores.values() if not s)
        return add("ours", f"tensorgrade grade -j {jobs}, full isolation", nsub, r, agree_str(scores, expected),
                   f"{errors} grader errors" if errors else "",
                   pss.get(f"ours -j {jobs}", {}).get("peak_pss_mb") if nsub == n else None)

    floor = floor_row(n, exp)
    ours1 = ours_row(1, n, exp)
    ours2 = ours_row(2, n, exp)
    if ours1 and ours2:
        share = ours2["total_s"] / ours1["total_s"]
        ours2["note"] = (f"{share:.2f} x the -j 1 time" + ("; no gain from the second worker" if share > 0.9 else "")
                         + ("; " + ours2["note"] if ours2["note"] else ""))
    ours1_l = ours_row(1, n_large, exp_large) if exp_large else None
    floor_l = floor_row(n_large, exp_large) if exp_large else None
    ours2_l = ours_row(2, n_large, exp_large) if exp_large else None

    setup = {}
    for tool, label in (("nbgrader", "generate_assignment"), ("otter", "assign"), ("ours", "reference (setup)")):
        r = recs(tool, label)
        if r:
            setup[f"{tool} {label}"] = r[0]["wall_s"]

    def fmt(x, digits=2):
        return "" if x is None else (f"{x:.{digits}f}" if isinstance(x, float) else str(x))

    def paired(ours, base, key):
        """ours / floor for each interleaved pair of runs (run i of each saw about the same load)."""
        if not ours or not base:
            return []
        return [a[key] / b[key] for a, b in zip(ours["records"], base["records"]) if a.get(key) and b.get(key)]

    harness = {tool: sum(m.get("harness_cpu_s", 0.0) for m in meas if m["tool"] == tool) for tool in ("ours", "floor")}
    lines = [f"# Benchmark: nbgrader, otter-grader and ours on the peers' `torchdl` course\n"]
    lines.append(f"Run {info.get('date', '?')} on **{info.get('cpus', '?')} cores** ({info.get('machine', '')}, "
                 f"Linux {info.get('kernel', '')}); Python {info.get('python', '')}, torch {info.get('torch', '')}, "
                 f"numpy {info.get('numpy', '')}, nbgrader {info.get('nbgrader', '')}, otter-grader "
                 f"{info.get('otter-grader', '')}; ours at commit {info.get('commit', '?')}. "
                 f"The whole benchmark took {info.get('seconds', '?')} s (`make bench`).\n")
    samples = info.get("load_samples") or []
    foreign = [m for m in meas if "foreign_load" in m]
    text = (f"**Load.** The machine is shared: 1-minute load average {fmt(info.get('load_before', [None])[0])} "
            f"at the start, {fmt((info.get('load_after') or [None])[0])} at the end, min/median/max "
            + (f"{min(samples):.1f}/{statistics.median(samples):.1f}/{max(samples):.1f}" if samples else "?")
            + " over the starts and ends of the timed commands (column `load avg`: each run's start→end; the "
            "load average counts every runnable thread, the benchmark's own included).")
    if foreign:
        values = [f["foreign_load"] for f in foreign if f["wall_s"] >= 1.0] or [f["foreign_load"] for f in foreign]
        weighted = sum(f["foreign_load"] * f["wall_s"] for f in foreign) / sum(f["wall_s"] for f in foreign)
        text += (f" CPU used by *other* processes (all CPU time the machine spent during a command, less the "
                 f"command's and the measuring's, per second; column `other load`, the highest of a row's runs, "
                 f"out of {info.get('cpus', '?')} CPUs): time-weighted mean {weighted:.2f}, median "
                 f"{statistics.median(values):.2f}, max {max(values):.2f}."
                 + (f" {len(discarded)} run(s) disturbed beyond --max-foreign were discarded and run again."
                    if discarded else ""))
    lines.append(text + "\n")
    lines.append("**Method.** Every command is timed and its memory sampled by the peers' `measure.py` (wall "
                 "time; peak RSS summed over the whole process tree every 20 ms, which counts a page shared by "
                 "forked processes once per process); `peak PSS` (bench/pss.py, separate untimed runs) divides "
                 "each shared page among its sharers. `CPU s` is the CPU time of the command's whole process "
                 "tree (a cgroup around it), which other processes' load changes much less than wall time. "
                 "Ours and the floor run interleaved (ours -j 1, floor, ours -j 2, repeated), so that they see "
                 "comparable load; the median of the runs is shown. nbgrader and otter run once each (minutes "
                 "long). Agreement: submissions whose three per-question scores all equal `expected.csv` "
                 "(questions right / all). nbgrader and otter run at other moments than ours, under whatever load "
                 "there was then: compare the CPU columns too."
                 + (f" measure.py's own sampling, on the same cores, used {harness['ours']:.1f} CPU s in all while "
                    f"it watched ours and {harness['floor']:.1f} while it watched the floor (a bigger process tree "
                    f"costs more to walk every 20 ms)." if harness.get("ours") and harness.get("floor") else "")
                 + "\n")
    hdr = ["grader", "mode", "N", "runs", "total s", "s / submission", "CPU s / submission",
           "peak RSS MB (tree sum)", "peak PSS MB", "agreement", "load avg", "other load", "note"]
    lines.append("| " + " | ".join(hdr) + " |")
    lines.append("|" + " --- |" * len(hdr))
    for row in rows:
        lines.append("| " + " | ".join([row["grader"], row["mode"], str(row["N"]), str(row["runs"]),
                                        fmt(row["total_s"], 1), fmt(row["s_per_sub"], 3), fmt(row["cpu_per_sub"], 3),
                                        fmt(row["peak_rss_mb"], 0), fmt(row["peak_pss_mb"], 0), row["agree"],
                                        row["load_avg"], fmt(row["other_load"]), row["note"]]) + " |")
    lines.append("")
    lines.append("**Ratios**, ours / other (seconds per submission, CPU seconds, peak memory; below 1 means ours "
                 "is faster or smaller). `paired`: ours / floor for each interleaved pair of runs.\n")
    lines.append("| ours | / nbgrader | / otter | / floor | / floor, paired | CPU / nbgrader | CPU / floor "
                 "| memory / floor (PSS) | memory / floor (RSS tree sum) |")
    lines.append("|" + " --- |" * 9)

    def ratio(ours, other, key="s_per_sub"):
        if not ours or not other or not other.get(key) or not ours.get(key):
            return None
        return ours[key] / other[key]

    def show(value, speed=False):
        if value is None:
            return ""
        return f"{value:.3f} ({1 / value:.1f}x faster)" if speed and value < 1 else f"{value:.2f}"

    for ours in (ours1, ours2):
        if ours:
            pairs = paired(ours, floor, "wall_s")
            lines.append(f"| {ours['mode']} | {show(ratio(ours, nbg), True)} | {show(ratio(ours, otter), True)} | "
                         f"{show(ratio(ours, floor))} | "
                         + (", ".join(f"{p:.2f}" for p in pairs)) + f" | {show(ratio(ours, nbg, 'cpu_per_sub'))} | "
                         f"{show(ratio(ours, floor, 'cpu_per_sub'))} | "
                         f"{show(ratio(ours, floor, 'peak_pss_mb'))} | {show(ratio(ours, floor, 'peak_rss_mb'))} |")
    lines.append("")

    lines.append("**Targets** (this machine, full isolation on):\n")

    def verdict(ok):
        return "holds" if ok else "**does not hold**"

    for ours in (ours1, ours2):
        if not ours:
            continue
        name = ours["mode"].split(",")[0].replace("tensorgrade grade ", "ours ")
        parts = []
        r_nbg, r_nbg_cpu = ratio(ours, nbg), ratio(ours, nbg, "cpu_per_sub")
        if r_nbg:
            parts.append(f"{1 / r_nbg:.1f}x faster per submission than nbgrader's batch autograde (target >= 8x): "
                         f"{verdict(1 / r_nbg >= 8)}" + (f" ({1 / r_nbg_cpu:.1f}x less CPU time)" if r_nbg_cpu else ""))
        r_floor = ratio(ours, floor)
        if r_floor:
            pairs = paired(ours, floor, "wall_s")
            r_cpu = ratio(ours, floor, "cpu_per_sub")
            parts.append(f"{r_floor:.2f}x the warm floor's time (target <= 1.5x): {verdict(r_floor <= 1.5)}"
                         + (f" (interleaved pairs {min(pairs):.2f}-{max(pairs):.2f}" if pairs else "")
                         + (f"; in CPU time {r_cpu:.2f}x" if r_cpu else "") + (")" if pairs else ""))
        r_pss, r_rss = ratio(ours, floor, "peak_pss_mb"), ratio(ours, floor, "peak_rss_mb")
        if r_pss:
            parts.append(f"peak memory {r_pss:.2f}x the floor's in PSS (target <= 2x): {verdict(r_pss <= 2)}"
                         + (f"; {r_rss:.2f}x in the peers' RSS tree sum" if r_rss else ""))
        lines.append(f"- {name}: " + "; ".join(parts) + ".")
    lines.append("")
    if ours1_l or floor_l:
        lines.append(f"**How the cost grows**, {n} -> {n_large} submissions (marginal seconds per extra submission "
                     f"= (T{n_large} - T{n}) / {n_large - n}; the fixed cost is what remains at N = 0; one run at "
                     f"N = {n_large}):\n")
        lines.append("| grader | T at N=%d s | T at N=%d s | marginal s / submission | fixed s | CPU s at N=%d | "
                     "CPU s at N=%d | marginal CPU s / submission | fixed CPU s | peak RSS MB at N=%d | load avg at N=%d |"
                     % (n, n_large, n, n_large, n_large, n_large))
        lines.append("|" + " --- |" * 11)
        for small, big in ((ours1, ours1_l), (ours2, ours2_l), (floor, floor_l)):
            if small and big:
                marginal = (big["total_s"] - small["total_s"]) / (n_large - n)
                cells = [f"{small['grader']}: {small['mode']}", f"{small['total_s']:.1f}", f"{big['total_s']:.1f}",
                         f"{marginal:.3f}", f"{small['total_s'] - n * marginal:.2f}"]
                if small["cpu_s"] and big["cpu_s"]:
                    cpu_marginal = (big["cpu_s"] - small["cpu_s"]) / (n_large - n)
                    cells += [f"{small['cpu_s']:.1f}", f"{big['cpu_s']:.1f}", f"{cpu_marginal:.3f}",
                              f"{small['cpu_s'] - n * cpu_marginal:.2f}"]
                else:
                    cells += ["", "", "", ""]
                cells += [fmt(big["peak_rss_mb"], 0), big["load_avg"]]
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if setup:
        lines.append("One-off setup per assignment, not in the totals above: "
                     + "; ".join(f"{k} {v:.1f} s" for k, v in setup.items()) + ".\n")
    text = "\n".join(lines) + "\n"
    (out / "RESULTS.md").write_text(text)
    with open(out / "results.csv", "w", newline="") as f:
        fields = [k for k in (rows[0] if rows else {"grader": 0}) if k != "records"]
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print("\n" + text)
    written = [out / "RESULTS.md", out / "results.csv"]
    if results is not None:
        results.write_text(text)
        written.append(results)
    print("(written to " + ", ".join(str(p) for p in written) + ")")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peers-dir", default=str(ROOT.parent / "shared" / "peers"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    parser.add_argument("--tensorgrade", default=str(ROOT / ".venv" / "bin" / "tensorgrade"))
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--n-large", type=int, default=100, help="second course size for the growth row (0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours and the floor at N (median shown)")
    parser.add_argument("--skip-peers", action="store_true", help="do not run nbgrader and otter (development)")
    parser.add_argument("--skip-pss", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep earlier raw measurements")
    parser.add_argument("--wait-quiet", type=float, default=0, help="seconds to wait for a quiet machine first")
    parser.add_argument("--quiet-load", type=float, default=0.3,
                        help="before each timed run, wait until other processes use at most this many CPUs")
    parser.add_argument("--max-foreign", type=float, default=0.3,
                        help="a run of ours or the floor during which other processes used more CPUs is run again")
    parser.add_argument("--retries", type=int, default=1,
                        help="how often a run of ours or the floor disturbed beyond --max-foreign is run again "
                             "(a shared machine is quiet at times; more with --wait-quiet)")
    parser.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"),
                        help="where the latest table goes too (committed); not written with --skip-peers")
    parser.add_argument("--no-results", action="store_true", help="write the table under --out only")
    parser.add_argument("--report-only", action="store_true", help="rebuild the tables from --out's raw data")
    args = parser.parse_args()
    if args.report_only:
        report(Path(args.out).resolve(), args.n, args.n_large, None if args.no_results else Path(args.results))
        return
    if not (Path(args.peers_dir) / "make_course.py").is_file():
        raise SystemExit(f"{args.peers_dir}: the peers' folder (make_course.py, measure.py, ref_exec.py) is "
                         "missing; set PEERS_DIR")
    Bench(args).run()


if __name__ == "__main__":
    main()
