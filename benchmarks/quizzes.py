"""How long the quizzes take to run, against the floor every course notebook pays (kernel start + header).

Goal (issue 8): each quiz executes in < 10 s. Baseline, run in the same process: a notebook holding only the
standard header (setup, parameters, `runtime.setup` banner) plus `import peft`, the imports a quiz needs anyway.
Also times the self-check itself (`lorajam.checks.evaluate`, PBKDF2 with 20,000 rounds) per call.
Run: `HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/quizzes.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lorajam import checks, course  # noqa: E402

GOAL_SECONDS = 10.0
QUIZZES = ("quiz1_lora", "quiz2_concerns")


def parameters() -> dict:
    jam_tiny = Path(checks.__file__).parent / "assets" / "jam-tiny" / "config.json"
    return course.QUICK_PARAMETERS if jam_tiny.exists() else {"QUICK": True, "MODEL": "auto"}


def baseline_notebook(folder: Path) -> Path:
    cells = course.header_cells("notebooks/baseline.ipynb", "Baseline", ["header only"], "QUICK = False\n"
                                "MODEL = 'auto'\nSEED = 0")
    cells.append(course.code("import peft  # noqa: F401"))
    return course.write_notebook(folder / "baseline.ipynb", cells)


def kernel_cpu() -> float:
    """CPU seconds used by finished child processes (the kernels): insensitive to other jobs on the machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(path: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Wall seconds and kernel CPU seconds of `repeat` headless runs."""
    wall, cpu = [], []
    for _ in range(repeat):
        before = kernel_cpu()
        wall.append(course.execute_notebook(path, parameters(), timeout=300)[1])
        cpu.append(kernel_cpu() - before)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2, help="runs per notebook (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = {"baseline (header + import peft)": run(baseline_notebook(Path(tmp)), args.repeat)}
        for name in QUIZZES:
            rows[f"solutions/{name}"] = run(course.REPO_ROOT / "solutions" / name / f"{name}.ipynb", args.repeat)
    base_wall, base_cpu = (statistics.median(x) for x in rows["baseline (header + import peft)"])
    print(f"\n{'notebook':34}  wall s (median, runs)   kernel CPU s  ratio vs baseline (wall, CPU)")
    ok = True
    for name, (wall, cpu) in rows.items():
        w, c = statistics.median(wall), statistics.median(cpu)
        runs = ", ".join(f"{t:.1f}" for t in wall)
        goal = "" if name.startswith("baseline") else f"  < 10 s: {'yes' if w < GOAL_SECONDS else 'NO'}"
        ok &= name.startswith("baseline") or w < GOAL_SECONDS
        print(f"{name:34}  {w:5.1f} ({runs:12})  {c:12.1f}  {w / base_wall:5.2f}, {c / base_cpu:5.2f}{goal}")
    checks.is_correct("quiz1.q1", "a")  # warm the key cache
    start = time.perf_counter()
    for _ in range(20):
        checks.is_correct("quiz2.q1", 107.8)  # a 3-significant-figure question: three hashes per check
    print(f"self-check, numeric question: {(time.perf_counter() - start) / 20 * 1000:.1f} ms per call")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
