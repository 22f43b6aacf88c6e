"""Course layout and nbgrader configuration shared by ``lorajam release`` and ``lorajam grade``."""

from __future__ import annotations

import os
from pathlib import Path

COURSE_ID = "lora-study-jam"
INSTALL_HINT = "pip install 'lorajam[instructor]'"
RELEASE_DIRS = {"lab": "labs", "quiz": "quizzes"}

CONFIG_TEMPLATE = '''"""nbgrader configuration for this grading folder (written by `lorajam grade`).

Run `nbgrader formgrader` / `jupyter lab` from this folder to review grades;
`lorajam grade` itself does not read this file.
"""
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "{course_id}"
c.CourseDirectory.source_directory = {source!r}
c.Execute.timeout = {timeout}
c.Exchange.assignment_dir = "."
'''


class UsageError(Exception):
    """Bad command-line input; the message says what was wrong and how to fix it (exit code 2)."""


def nbgrader_missing() -> str | None:
    """A one-line message when nbgrader is not importable, else None."""
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        return f"nbgrader is not installed; the instructor tools need it: {INSTALL_HINT}"
    return None


def repo_root() -> Path:
    """The course repository: the nearest folder above cwd with ``solutions/`` and a lorajam pyproject."""
    for d in [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]:
        pp = d / "pyproject.toml"
        if pp.is_file() and (d / "solutions").is_dir() and 'name = "lorajam"' in pp.read_text():
            return d
    raise UsageError("could not find the course repository (a folder with solutions/ and lorajam's "
                     "pyproject.toml); run from inside it or pass --course-dir / --solutions")


def release_path(repo: Path, name: str) -> Path:
    """Where the student version of assignment ``name`` goes: ``labs/`` or ``quizzes/``."""
    for prefix, folder in RELEASE_DIRS.items():
        if name.startswith(prefix):
            return repo / folder / f"{name}.ipynb"
    raise UsageError(f"assignment '{name}' must start with 'lab' or 'quiz' (it decides labs/ or quizzes/)")


def assignments(solutions: Path) -> list[str]:
    """Assignment names: folders ``solutions/<name>/`` holding ``<name>.ipynb``."""
    if not solutions.is_dir():
        return []
    return sorted(d.name for d in solutions.iterdir() if (d / f"{d.name}.ipynb").is_file())


def nbgrader_config(root: Path, solutions: Path, *, timeout: int = 120, db: Path | None = None,
                    release: Path | None = None):
    """A traitlets Config for a course rooted at ``root`` whose source folder is ``solutions``."""
    from traitlets.config import Config

    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.source_directory = str(solutions.resolve())
    if release is not None:
        c.CourseDirectory.release_directory = str(release)
    c.CourseDirectory.db_url = f"sqlite:///{(db or root / 'gradebook.db').resolve()}"
    c.Execute.timeout = timeout
    return c


def write_course_config(course: Path, solutions: Path, timeout: int) -> None:
    """Create ``nbgrader_config.py`` in a grading folder if it has none."""
    cfg = course / "nbgrader_config.py"
    if not cfg.exists():
        course.mkdir(parents=True, exist_ok=True)
        cfg.write_text(CONFIG_TEMPLATE.format(course_id=COURSE_ID, source=os.fspath(solutions.resolve()),
                                              timeout=timeout))


def ensure_tools_on_path() -> None:
    """nbgrader's Gradebook shells out to ``alembic``: find it in this environment, and ask it once per process."""
    import sys

    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + path
    import functools
    import warnings

    import nbgrader.api as api
    from sqlalchemy.exc import SAWarning

    # nbgrader's own add_submission trips SQLAlchemy autoflush warnings; they are noise for instructors
    warnings.filterwarnings("ignore", category=SAWarning)
    if not hasattr(api.get_alembic_version, "cache_info"):  # it runs `alembic heads` for every Gradebook
        api.get_alembic_version = functools.lru_cache(maxsize=1)(api.get_alembic_version)
