"""Instructor pipeline on top of nbgrader: ``lorajam release`` and ``lorajam grade``.

nbgrader is imported lazily, so ``import lorajam.grading`` works without the ``instructor`` extra.
"""

from __future__ import annotations

__all__ = ["cli_grade", "cli_release", "stale_releases"]


def cli_release(argv: list[str]) -> int:
    """Entry point of ``lorajam release`` (see :mod:`lorajam.grading.cli`)."""
    from .cli import cli_release as run

    return run(argv)


def cli_grade(argv: list[str]) -> int:
    """Entry point of ``lorajam grade`` (see :mod:`lorajam.grading.cli`)."""
    from .cli import cli_grade as run

    return run(argv)


def stale_releases(repo=None) -> list[str]:
    """Paths under labs/ and quizzes/ that a fresh ``lorajam release`` would change."""
    from .release import stale_releases as stale

    return stale(repo)
