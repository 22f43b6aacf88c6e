"""``lorajam release``: nbgrader ``generate_assignment`` for every assignment, flattened to labs/ and quizzes/.

The student versions are normalised so that re-running gives byte-identical files (stable cell ids,
no outputs, no execution counts), which makes ``--check`` / :func:`stale_releases` reliable.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

import nbformat

from .config import assignments, ensure_tools_on_path, nbgrader_config, release_path

_ID_OK = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip outputs and give every cell a stable id (also mirrored in ``metadata.id``, where Colab keeps it)."""
    nb.nbformat, nb.nbformat_minor = 4, 5
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        cid = cell.get("id", "")
        if not _ID_OK.match(cid or "") or cid in seen:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
            cid = grade_id if _ID_OK.match(grade_id) and grade_id not in seen else \
                hashlib.sha1(f"{i}:{cell.source}".encode()).hexdigest()[:12]
        seen.add(cid)
        cell["id"] = cid
        cell.metadata["id"] = cid
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    return nb


def relocate_links(nb: nbformat.NotebookNode, name: str) -> None:
    """Point links to the source notebook (e.g. the Open-in-Colab badge) at the student version."""
    src = f"solutions/{name}/{name}.ipynb"
    dest = release_path(Path("."), name).as_posix()
    for cell in nb.cells:
        if cell.cell_type == "markdown" and src in cell.source:
            cell.source = cell.source.replace(src, dest)


def generate(solutions: Path, names: list[str] | None = None) -> dict[str, str]:
    """Run nbgrader generate_assignment in a scratch course; return ``{name: student notebook JSON}``."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    ensure_tools_on_path()
    names = assignments(solutions) if names is None else names
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="lorajam-release-") as tmp:
        root = Path(tmp)
        config = nbgrader_config(root, solutions, release=root / "release")
        api = NbGraderAPI(CourseDirectory(config=config), config=config)
        for name in names:
            result = api.generate_assignment(name, force=True, create=True)
            if not result["success"]:
                raise RuntimeError(f"nbgrader generate_assignment failed for {name}:\n"
                                   f"{result.get('log', '')}{result.get('error', '')}")
            nb = nbformat.read(root / "release" / name / f"{name}.ipynb", as_version=4)
            relocate_links(nb, name)
            out[name] = nbformat.writes(normalise(nb)) + "\n"
    return out


def release(repo: Path, solutions: Path | None = None, check: bool = False) -> list[str]:
    """Write (or with ``check`` only compare) the student versions; return the paths that were stale."""
    solutions = solutions or repo / "solutions"
    stale = []
    for name, text in generate(solutions).items():
        dest = release_path(repo, name)
        if not dest.is_file() or dest.read_text() != text:
            stale.append(str(dest.relative_to(repo)))
            if not check:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(text)
    return stale


def stale_releases(repo: Path | None = None) -> list[str]:
    """Student notebooks in labs/ and quizzes/ that differ from a fresh ``lorajam release`` (for CI)."""
    from .config import repo_root

    return release(repo or repo_root(), check=True)
