"""Peak PSS of a command's whole process tree: like the peers' measure.py, but each shared page is
divided among the processes that share it, so forked copies of one warm process are not counted
once per process (summed RSS counts a page once per process that maps it).

    pss.py --out FILE --label L -- cmd args...       (appends one JSON line to FILE)
"""

import argparse
import json
import subprocess
import threading
import time

import psutil


def tree_pss(proc: psutil.Process) -> tuple[int, int]:
    pss = rss = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0, 0
    for p in procs:
        try:
            with open(f"/proc/{p.pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
        except OSError:
            pass
    return pss, rss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    started = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = psutil.Process(child.pid)
    peak = {"pss": 0, "rss": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            pss, rss = tree_pss(proc)
            peak["pss"], peak["rss"] = max(peak["pss"], pss), max(peak["rss"], rss)
            done.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    rc = child.wait()
    done.set()
    thread.join()
    record = {"label": a.label, "rc": rc, "wall_s": round(time.perf_counter() - started, 3),
              "peak_pss_mb": round(peak["pss"] / 2**20, 1), "peak_rss_mb": round(peak["rss"] / 2**20, 1)}
    with open(a.out, "a") as f:
        f.write(json.dumps(record) + "\n")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
