"""Command-line entry points ``lorajam release`` and ``lorajam grade`` (argparse lives here)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import UsageError, nbgrader_missing, repo_root


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # exit code 2 as a return value, not SystemExit
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def _positive(kind):
    def conv(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if v <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return v
    return conv


def _guard(main, argv) -> int:
    msg = nbgrader_missing()
    if msg:
        print(f"error: {msg}", file=sys.stderr)
        return 2
    try:
        return main(argv)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except KeyboardInterrupt:
        print("\ninterrupted: every student merged so far is complete in the gradebook; run the same command "
              "again to grade the rest", file=sys.stderr)
        return 1


def cli_release(argv: list[str]) -> int:
    """``lorajam release [--course-dir REPO] [--check]``: regenerate labs/ and quizzes/ from solutions/."""
    return _guard(_release, argv)


def _release(argv: list[str]) -> int:
    from .release import release

    p = _Parser(prog="lorajam release", description="Generate the student versions (nbgrader generate_assignment) "
                "of every solutions/<name>/<name>.ipynb into labs/ (lab*) and quizzes/ (quiz*).")
    p.add_argument("--course-dir", type=Path, help="the course repository (default: found from the cwd)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if any student version is stale")
    a = p.parse_args(argv)
    repo = (a.course_dir or repo_root()).resolve()
    if not (repo / "solutions").is_dir():
        raise UsageError(f"{repo} has no solutions/ folder; pass the repository with --course-dir")
    stale = release(repo, check=a.check)
    if a.check:
        for s in stale:
            print(f"stale: {s} (run `lorajam release`)")
        print("releases up to date" if not stale else f"{len(stale)} stale release(s)")
        return 1 if stale else 0
    print("\n".join(f"wrote {s}" for s in stale) or "releases already up to date")
    return 0


def cli_grade(argv: list[str]) -> int:
    """``lorajam grade ASSIGNMENT SUBMISSIONS [...]``: 0 all graded, 1 some could not be, 2 usage error."""
    return _guard(_grade, argv)


def _grade(argv: list[str]) -> int:
    from .grade import Options, grade, load_manifest
    from .report import export_grades, plot_summary, score_rows, summary_table, write_scores
    from .sandbox import BWRAP_PACKAGE, bwrap_path

    p = _Parser(prog="lorajam grade", description="Autograde submissions with nbgrader: Colab repair, "
                "bubblewrap sandbox, parallel workers, one gradebook.")
    p.add_argument("assignment", help="assignment name, a folder of solutions/ (e.g. quiz1_lora)")
    p.add_argument("submissions", type=Path, help="folder of <student>.ipynb or <student>/ folders, or a .zip")
    p.add_argument("--course-dir", type=Path, help="nbgrader course folder (default: grading/ in the repository)")
    p.add_argument("--solutions", type=Path, help="source notebooks folder (default: solutions/ in the repository)")
    p.add_argument("--workers", type=_positive(int), default=0, help="parallel submissions (default: CPU count)")
    p.add_argument("--timeout", type=_positive(int), default=300, help="seconds per cell (default: 300)")
    p.add_argument("--notebook-timeout", type=_positive(int), default=0,
                   help="seconds per notebook (default: 10 x --timeout, at least 600)")
    p.add_argument("--memory", type=_positive(int), default=2048, help="MB of memory per kernel (default: 2048)")
    p.add_argument("--student-regex", help="regex with a named group 'student' matched on file paths")
    p.add_argument("--no-sandbox", action="store_true", help="run student code unconfined (trusted input only)")
    p.add_argument("--no-feedback", action="store_true", help="skip nbgrader feedback HTML")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    if a.no_sandbox:
        print("warning: --no-sandbox: student code runs with your permissions and can read the gradebook",
              file=sys.stderr)
    elif bwrap_path() is None:
        raise UsageError(f"the sandbox needs bubblewrap (`bwrap`): install the '{BWRAP_PACKAGE}' package "
                         f"(e.g. `sudo apt-get install {BWRAP_PACKAGE}`), or pass --no-sandbox for trusted input")
    repo = None
    if a.course_dir is None or a.solutions is None:
        repo = repo_root()
    opts = Options(assignment=a.assignment, submissions=a.submissions,
                   course=a.course_dir or repo / "grading", solutions=a.solutions or repo / "solutions",
                   workers=a.workers, timeout=a.timeout, notebook_timeout=a.notebook_timeout,
                   memory_mb=a.memory, regex=a.student_regex, sandbox=not a.no_sandbox,
                   feedback=not a.no_feedback, progress=not a.quiet)
    out = grade(opts)
    rows = score_rows(opts.course, opts.assignment, load_manifest(opts))
    write_scores(opts.course / "scores.csv", rows)
    export_grades(opts.course)
    if rows:
        plot_summary(opts.course / "summary.png", rows, opts.assignment)
    print(summary_table(rows))
    for student, log in sorted(out.repairs.items()):
        for line in log:
            print(f"repaired {student}: {line}")
    print(f"\ngraded {len(out.graded)}, unchanged {len(out.reused)}, not graded {len(out.problems)}; "
          f"outputs in {opts.course} (scores.csv, grades.csv, summary.png)")
    for prob in out.problems:
        print(f"NOT GRADED {prob.label}: {prob.reason}", file=sys.stderr)
    return 1 if out.problems else 0
