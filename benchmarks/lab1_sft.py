"""Lab 1 benchmark: the solution notebook headless on jam-tiny (per seed) and nbgrader autograde of it.

Prints, per seed: test-split exact match before and after LoRA SFT, training seconds and whole-notebook seconds;
then the autograde seconds and score of the solution. Goals (issue 6): exact match after >= 0.85 on every seed
(the graded bar is 0.70), notebook <= 90 s and autograde <= 120 s on 2 CPU cores.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/lab1_sft.py --seeds 0 1 2 [--no-autograde] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from lorajam import course

SOLUTION = course.REPO_ROOT / "solutions" / "lab1_sft" / "lab1_sft.ipynb"
ASSIGNMENT = "lab1_sft"
GOALS = {"exact_match_after": 0.85, "notebook_seconds": 90.0, "autograde_seconds": 120.0}
REPORT = """\
import json
print("LAB1-RESULT " + json.dumps({"base": base_score, "after": score, "graded": graded_score,
                                  "train_seconds": train_seconds, "steps": steps}))"""


def run_seed(seed: int) -> dict:
    """Execute the solution with QUICK=True, MODEL='jam-tiny', SEED=seed; return its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lab1_sft.ipynb"
        nb = nbformat.read(SOLUTION, as_version=4)
        nb.cells.append(course.code(REPORT))
        nbformat.write(nb, path)
        executed, seconds = course.execute_notebook(path, {"QUICK": True, "MODEL": "jam-tiny", "SEED": seed},
                                                    timeout=600)
    text = "".join(o.get("text", "") for o in executed.cells[-1].outputs)
    result = json.loads(text.split("LAB1-RESULT ", 1)[1])
    return {"seed": seed, **result, "notebook_seconds": seconds}


def autograde_solution() -> tuple[float, float, float]:
    """(seconds, score, max score) of `nbgrader autograde` on the solution in a scratch course."""
    from nbgrader.api import Gradebook

    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # nbgrader's gradebook runs alembic
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": path}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.root = {tmp!r}\nc.Execute.timeout = 300\n"
            f"c.Execute.iopub_timeout = 60\nc.CourseDirectory.db_url = 'sqlite:///{tmp}/gradebook.db'\n")
        (root / "source" / ASSIGNMENT).mkdir(parents=True)
        shutil.copy(SOLUTION, root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        (root / "submitted" / "solution" / ASSIGNMENT).mkdir(parents=True)
        shutil.copy(SOLUTION, root / "submitted" / "solution" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")

        def nbgrader(*args: str) -> float:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env, check=True,
                           capture_output=True)
            return time.perf_counter() - start

        nbgrader("db", "assignment", "add", ASSIGNMENT)
        nbgrader("generate_assignment", ASSIGNMENT, "--force")
        nbgrader("db", "student", "add", "solution")
        seconds = nbgrader("autograde", ASSIGNMENT, "--student", "solution", "--force")
        with Gradebook(f"sqlite:///{tmp}/gradebook.db") as gb:
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "solution")
            return seconds, nb.score, nb.max_score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-autograde", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the kernels")
    args = parser.parse_args(argv)
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    rows = [run_seed(seed) for seed in args.seeds]
    print(f"\n{'seed':>4} {'base EM':>8} {'after EM':>9} {'graded':>7} {'train s':>8} {'notebook s':>11}")
    for r in rows:
        print(f"{r['seed']:>4} {r['base']:>8.1%} {r['after']:>9.1%} {r['graded']:>7.1%} {r['train_seconds']:>8.1f} "
              f"{r['notebook_seconds']:>11.1f}")
    worst = min(r["after"] for r in rows)
    slowest = max(r["notebook_seconds"] for r in rows)
    print(f"\nworst exact match after SFT: {worst:.1%} (goal >= {GOALS['exact_match_after']:.0%}, graded bar 70%); "
          f"slowest notebook: {slowest:.1f} s (goal <= {GOALS['notebook_seconds']:.0f} s, "
          f"ratio {slowest / GOALS['notebook_seconds']:.2f})")
    if not args.no_autograde:
        seconds, score, max_score = autograde_solution()
        print(f"nbgrader autograde of the solution: {seconds:.1f} s (goal <= {GOALS['autograde_seconds']:.0f} s, "
              f"ratio {seconds / GOALS['autograde_seconds']:.2f}), score {score:g} / {max_score:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
