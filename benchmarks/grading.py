"""Benchmark: plain sequential `nbgrader autograde` vs `lorajam grade` (sandboxed, parallel).

    .venv/bin/python benchmarks/grading.py [--n 30] [--assignments quiz1_lora lab1_sft] [--workers 2]

For each assignment: N synthetic submissions built from the released notebook (even: the instructor's
answers, odd: left blank; lab submissions run with QUICK = True so both pipelines do the same work),
then four timed runs on fresh course folders:
  1. baseline: one `nbgrader autograde ASSIGNMENT` command (sequential, unsandboxed, no feedback);
  2. `lorajam grade --workers W` (sandboxed, no feedback);
  3./4. `lorajam grade --workers 1` with and without the sandbox (sandbox overhead).
Prints seconds and ratios; checks that every pipeline gives the same total per student.
Goals (issue 9): quiz >= 1.8x, lab >= 1.3x faster than the baseline; sandbox overhead <= 10%.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]


def submissions(solutions: Path, name: str, n: int, dest: Path) -> None:
    from lorajam.grading.release import generate

    released = nbformat.reads(generate(solutions, [name])[name], as_version=4)
    source = nbformat.read(solutions / name / f"{name}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    dest.mkdir(parents=True)
    for i in range(n):
        nb = nbformat.reads(nbformat.writes(released), as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if i % 2 == 0 and meta.get("solution") and meta.get("grade_id") in answers:
                src = answers[meta["grade_id"]]
                cell.source = re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n?", "", src)
            if "parameters" in cell.metadata.get("tags", []):
                cell.source = re.sub(r"^QUICK = False", "QUICK = True", cell.source, flags=re.M)
        nbformat.write(nb, dest / f"student{i:02d}.ipynb")


def baseline(solutions: Path, name: str, subs: Path, course: Path, timeout: int) -> float:
    """Plain nbgrader: generate_assignment (untimed), then one sequential `nbgrader autograde`."""
    course.mkdir()
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.source_directory = {str(solutions)!r}\nc.Execute.timeout = {timeout}\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run([*nbgrader, "generate_assignment", name, "--force"], cwd=course, env=env, check=True,
                   capture_output=True)
    for nb in sorted(subs.glob("*.ipynb")):
        d = course / "submitted" / nb.stem / name
        d.mkdir(parents=True)
        shutil.copy(nb, d / f"{name}.ipynb")
    t = time.perf_counter()
    subprocess.run([*nbgrader, "autograde", name], cwd=course, env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def ours(solutions: Path, name: str, subs: Path, course: Path, timeout: int, *flags: str) -> float:
    from lorajam.grading import cli_grade

    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        rc = cli_grade([name, str(subs), "--course-dir", str(course), "--solutions", str(solutions),
                        "--timeout", str(timeout), "--no-feedback", "--quiet", *flags])
    elapsed = time.perf_counter() - t
    if rc != 0:
        raise SystemExit(f"lorajam grade exited {rc} for {name} {flags}")
    return elapsed


def totals(course: Path, name: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student_id: round(float(s.score), 3) for s in gb.assignment_submissions(name)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--assignments", nargs="+", default=["quiz1_lora", "lab1_sft"])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--solutions", type=Path, default=REPO / "solutions")
    ap.add_argument("--skip-overhead", action="store_true", help="skip the workers=1 sandbox-overhead runs")
    ap.add_argument("--skip-speedup", action="store_true", help="skip the baseline and parallel runs")
    a = ap.parse_args()
    print(f"{os.cpu_count()} CPUs, {a.n} submissions, --workers {a.workers}")
    for name in a.assignments:
        if not (a.solutions / name / f"{name}.ipynb").is_file():
            print(f"{name}: not in {a.solutions}, skipped")
            continue
        with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
            tmp = Path(tmp)
            submissions(a.solutions, name, a.n, tmp / "subs")
            if not a.skip_speedup:
                t_base = baseline(a.solutions, name, tmp / "subs", tmp / "base", a.timeout)
                t_par = ours(a.solutions, name, tmp / "subs", tmp / "par", a.timeout, "--workers", str(a.workers))
                same = totals(tmp / "base", name) == totals(tmp / "par", name)
                print(f"{name}: baseline sequential nbgrader autograde {t_base:7.1f} s")
                print(f"{name}: lorajam grade --workers {a.workers} (sandbox)  {t_par:7.1f} s  "
                      f"speed-up {t_base / t_par:4.2f}x  same totals: {same}")
            if not a.skip_overhead:
                t_s1 = ours(a.solutions, name, tmp / "subs", tmp / "s1", a.timeout, "--workers", "1")
                t_n1 = ours(a.solutions, name, tmp / "subs", tmp / "n1", a.timeout, "--workers", "1", "--no-sandbox")
                same = totals(tmp / "s1", name) == totals(tmp / "n1", name)
                print(f"{name}: --workers 1 sandbox {t_s1:7.1f} s, no sandbox {t_n1:7.1f} s, "
                      f"sandbox overhead {100 * (t_s1 / t_n1 - 1):+5.1f}%  same totals: {same}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
