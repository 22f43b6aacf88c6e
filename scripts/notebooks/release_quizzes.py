"""Release only the quizzes: `lorajam release` (lorajam.grading.release) restricted to the quiz assignments.

`lorajam release` regenerates every assignment in `solutions/` (labs too); this writes `quizzes/<quiz>.ipynb` only,
with exactly the same code path, so a quiz author does not touch the labs.

    python scripts/notebooks/release_quizzes.py            # both quizzes
    python scripts/notebooks/release_quizzes.py quiz1_lora
"""

from __future__ import annotations

import sys
from pathlib import Path

from lorajam import course
from lorajam.grading.config import release_path
from lorajam.grading.release import generate

QUIZZES = ("quiz1_lora", "quiz2_concerns")


def release(names: tuple[str, ...] = QUIZZES, root: Path = course.REPO_ROOT) -> list[Path]:
    """Write the student version of each quiz in `names` to `root/quizzes/`; return the paths."""
    written = []
    for name, text in generate(root / "solutions", list(names)).items():
        dest = release_path(root, name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
        written.append(dest)
    return written


if __name__ == "__main__":
    for path in release(tuple(sys.argv[1:]) or QUIZZES):
        print(path)
