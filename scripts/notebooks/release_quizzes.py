"""Release the quizzes: nbgrader `generate_assignment` from `solutions/<quiz>/` to `quizzes/<quiz>.ipynb`.

Uses `lorajam release` (lorajam.grading) when that exists; otherwise runs nbgrader itself in a temporary course
directory. Either way the released notebook gets its own Open-in-Colab badge (pointing at `quizzes/`).

    python scripts/notebooks/release_quizzes.py            # both quizzes
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from lorajam import course

QUIZZES = ("quiz1_lora", "quiz2_concerns")


def nbgrader_api(root: Path):
    """An `NbGraderAPI` for a course directory with its own gradebook (imports nbgrader lazily)."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    bindir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from PATH: use this environment's
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")

    config = Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    config.Exchange.root = str(root / "exchange")
    return NbGraderAPI(config=config)


def generate(name: str, solutions: Path, dest: Path) -> Path:
    """nbgrader generate_assignment for one assignment in a temporary course dir; returns `dest`."""
    with tempfile.TemporaryDirectory(prefix="lorajam-release-") as tmp:
        root = Path(tmp)
        shutil.copytree(solutions / name, root / "source" / name)
        result = nbgrader_api(root).generate_assignment(name, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment failed for {name}:\n{result['log']}\n{result['error']}")
        released = root / "release" / name / f"{name}.ipynb"
        text = released.read_text()
    relpath = dest.relative_to(course.REPO_ROOT).as_posix() if dest.is_relative_to(course.REPO_ROOT) else dest.name
    text = course._BADGE_RE.sub(course.colab_url(relpath, course.settings()), text)  # noqa: SLF001
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    return dest


def release(names: tuple[str, ...] = QUIZZES, root: Path = course.REPO_ROOT) -> list[Path]:
    """Release `names` from `root/solutions` to `root/quizzes`."""
    return [generate(name, root / "solutions", root / "quizzes" / f"{name}.ipynb") for name in names]


if __name__ == "__main__":
    for path in release(tuple(sys.argv[1:]) or QUIZZES):
        print(path)
