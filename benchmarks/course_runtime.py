"""Execute the whole course headless (quick parameters, offline) and print seconds per notebook and in total.

Goal for the finished course: <= 180 s on 2 cores. Also times `lorajam doctor` offline (goal < 5 s).
Run: `make bench` or `HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/course_runtime.py [--full]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lorajam import course  # noqa: E402

GOAL_SECONDS = 180.0
DOCTOR_GOAL_SECONDS = 5.0


def time_doctor() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lorajam.cli", "doctor"], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="run with QUICK = False (the learners' setting)")
    args = parser.parse_args()
    parameters = {**course.QUICK_PARAMETERS, "QUICK": not args.full}
    rows: list[tuple[str, float, str]] = []
    for path in course.course_notebooks(dirs=("notebooks", "solutions")):
        name = path.relative_to(course.REPO_ROOT).as_posix()
        try:
            _, seconds = course.execute_notebook(path, parameters=parameters, timeout=900)
            rows.append((name, seconds, "ok"))
        except course.NotebookRunError as err:
            rows.append((name, float("nan"), f"FAILED: {str(err).splitlines()[-1][:60]}"))
        print(f"  {name}: {rows[-1][1]:.1f} s {rows[-1][2]}", flush=True)
    total = sum(s for _, s, status in rows if status == "ok")
    width = max(len(n) for n, _, _ in rows)
    print(f"\n{'notebook'.ljust(width)}  seconds  status")
    for name, seconds, status in rows:
        print(f"{name.ljust(width)}  {seconds:7.1f}  {status}")
    share = total / GOAL_SECONDS
    print(f"{'total'.ljust(width)}  {total:7.1f}  goal <= {GOAL_SECONDS:.0f} s: {share:.2f} of the budget")
    doctor = time_doctor()
    print(f"lorajam doctor (offline): {doctor:.2f} s (goal < {DOCTOR_GOAL_SECONDS:.0f} s)")
    return 0 if all(status == "ok" for _, _, status in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
