"""Builds our torchdl reference solution and known mistakes from the peers' course generator.

    python bench/build_torchdl.py [PEERS_DIR]        (default ../shared/peers)

The reference code is make_course.py's own (SETUP, then each question's cell with its solution
regions filled in), so our assignment grades exactly the course that nbgrader and otter grade.
Writes bench/torchdl_solutions/solution.ipynb and bench/torchdl_solutions/mistakes/*.py; the files
are committed, so rerun this only when make_course.py changes (`make bench` checks they are current).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOLUTIONS = HERE / "torchdl_solutions"

# mistake name -> (question, explanation, make_course attribute holding the variant's regions)
MISTAKES = {
    "wrong-gradient-sign": ("q1", "grad_c has the wrong sign, so gradient descent climbs in c and the fit "
                                  "diverges. d/dc of sum((y_pred - y)^2) is sum(2 (y_pred - y) x^2).", "Q1_SIGN"),
    "backward-missing-factor": ("q2", "backward drops the constant factor 1.5 of P3'(x) = 1.5 (5x^2 - 1), so "
                                      "every gradient is two thirds of the right one.", "Q2_BWD"),
    "forgot-zero-grad": ("q3", "optimizer.zero_grad() is never called, so each step applies the sum of every "
                               "gradient so far and the loss stalls far above the target. Reset the gradients "
                               "every step.", "Q3_NOZERO"),
}


def load_course(peers_dir: Path):
    path = peers_dir / "make_course.py"
    if not path.is_file():
        sys.exit(f"{path}: not found (the peers' course generator; set PEERS_DIR)")
    spec = importlib.util.spec_from_file_location("peers_make_course", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(peers_dir: Path) -> dict[Path, str]:
    mc = load_course(peers_dir)
    cells = [mc.cell("markdown", "# torchdl: reference solution (built by bench/build_torchdl.py)"),
             mc.cell("code", mc.SETUP.rstrip("\n"))]
    templates = {}
    for q, prompt, template, solution, _tests in mc.QUESTIONS:
        templates[q] = template
        cells.append(mc.cell("markdown", prompt))
        cells.append(mc.cell("code", mc.fill(template, solution)))
    notebook = mc.add_ids(mc.notebook(cells, {"tensorgrade": {"assignment": "torchdl", "version": "1.0"}}))
    files = {SOLUTIONS / "solution.ipynb": json.dumps(notebook, indent=1) + "\n"}
    for name, (q, explanation, attribute) in MISTAKES.items():
        words, lines = explanation.split(), [""]
        for word in words:  # the leading comment block is the explanation shown to the student
            lines[-1:] = [lines[-1] + " " + word] if len(lines[-1]) + len(word) < 95 else [lines[-1], " " + word]
        header = "".join(f"#{line}\n" for line in lines)
        files[SOLUTIONS / "mistakes" / f"{name}.py"] = header + mc.fill(templates[q], getattr(mc, attribute)) + "\n"
    return files


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--check"]
    peers_dir = Path(args[0]) if args else HERE.parent.parent / "shared" / "peers"
    files = build(peers_dir.resolve())
    if "--check" in sys.argv:
        stale = [str(p) for p, text in files.items() if not p.is_file() or p.read_text() != text]
        if stale:
            sys.exit("out of date with make_course.py (run `python bench/build_torchdl.py`): " + ", ".join(stale))
        return
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
