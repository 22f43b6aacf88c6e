"""Course layout: which notebooks exist, and their standard header (title, badge, setup, parameters, banner).

The Colab badge and the Colab install line come from one setting, `[tool.lorajam]` in `pyproject.toml`;
`lorajam badges` rewrites them in every notebook after that setting changes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[2]
COURSE_DIRS = ("notebooks", "solutions", "labs", "quizzes")
_BADGE_RE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\\\"']+")
_INSTALL_RE = re.compile(r"lorajam @ git\+[^\s\\\"']+")  # stops at a quote or a JSON escape


def settings(root: Path = REPO_ROOT) -> dict[str, str]:
    """`[tool.lorajam]` of the repository's pyproject: `repo_url` and `branch`."""
    import tomllib  # Python 3.11+; only instructors and developers call this

    data = tomllib.loads((root / "pyproject.toml").read_text())
    conf = data.get("tool", {}).get("lorajam", {})
    return {"repo_url": conf["repo_url"].rstrip("/"), "branch": conf.get("branch", "main")}


def colab_url(relpath: str, conf: dict[str, str]) -> str:
    """Open-in-Colab address of a notebook path relative to the repository root."""
    slug = conf["repo_url"].removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{slug}/blob/{conf['branch']}/{relpath}"


def install_spec(conf: dict[str, str]) -> str:
    """The pip requirement Colab installs: the course package straight from the repository."""
    return f"lorajam @ git+{conf['repo_url']}@{conf['branch']}"


def md(source: str, **metadata) -> nbformat.NotebookNode:
    """A markdown cell (leading/trailing blank lines stripped)."""
    return nbformat.v4.new_markdown_cell(source.strip("\n"), metadata=metadata)


def code(source: str, tags: tuple[str, ...] = (), **metadata) -> nbformat.NotebookNode:
    """A code cell with optional tags (e.g. `parameters`)."""
    if tags:
        metadata = {**metadata, "tags": list(tags)}
    return nbformat.v4.new_code_cell(source.strip("\n"), metadata=metadata)


def header_cells(
    relpath: str,
    title: str,
    objectives: list[str],
    parameters: str,
    conf: dict[str, str] | None = None,
    banner: str = "rt = runtime.setup(MODEL, seed=SEED)",
) -> list[nbformat.NotebookNode]:
    """Standard opening cells: title + objectives, badge, Colab-only setup, `parameters`, runtime banner.

    `parameters` is the body of the papermill `parameters` cell; it must define `QUICK`, `MODEL` and `SEED`.
    """
    conf = conf or settings()
    missing = [name for name in ("QUICK", "MODEL", "SEED") if not re.search(rf"^{name}\s*=", parameters, re.M)]
    if missing:
        raise ValueError(f"the parameters cell of {relpath} must define {', '.join(missing)}")
    bullets = "\n".join(f"- {item}" for item in objectives)
    badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(relpath, conf)})"
    setup = (
        "# Setup: on Colab this installs the course package (Colab's own torch and transformers are kept).\n"
        "# Locally (`make lab`) everything is installed already and this cell does nothing.\n"
        "import sys\n\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "{install_spec(conf)}"'
    )
    return [
        md(f"# {title}\n\n**In this notebook you will:**\n{bullets}"),
        md(badge, tags=["colab-badge"]),
        code(setup, tags=("setup",)),
        code(parameters, tags=("parameters",)),
        code(f"from lorajam import runtime\n\n{banner}", tags=("banner",)),
    ]


def write_notebook(path: Path, cells: list[nbformat.NotebookNode], extra_metadata: dict | None = None) -> Path:
    """Write cells as a clean notebook (no outputs, Python 3 kernel, Colab-friendly metadata)."""
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata.update(
        {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "accelerator": "GPU",
            "colab": {"provenance": []},
            **(extra_metadata or {}),
        }
    )
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def course_notebooks(root: Path = REPO_ROOT, dirs: tuple[str, ...] = COURSE_DIRS) -> list[Path]:
    """Every committed notebook of the course, sorted."""
    found: list[Path] = []
    for name in dirs:
        found += [p for p in (root / name).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts]
    return sorted(found)


def sync_badges(root: Path = REPO_ROOT) -> list[Path]:
    """Rewrite badge and Colab install URLs in every notebook and the README from `[tool.lorajam]`.

    Returns the files that changed.
    """
    conf = settings(root)
    changed: list[Path] = []
    for path in course_notebooks(root):
        relpath = path.relative_to(root).as_posix()
        text = path.read_text()
        new = _BADGE_RE.sub(colab_url(relpath, conf), text)
        new = _INSTALL_RE.sub(install_spec(conf).replace("\\", "\\\\"), new)
        if new != text:
            json.loads(new)  # never write a broken notebook
            path.write_text(new)
            changed.append(path)
    readme = root / "README.md"
    if readme.exists():
        text = readme.read_text()
        new = re.sub(
            r"\(https://colab\.research\.google\.com/github/[^/]+/[^/]+/blob/[^/]+/([^)\s]+)\)",
            lambda m: f"({colab_url(m.group(1), conf)})",
            text,
        )
        if new != text:
            readme.write_text(new)
            changed.append(readme)
    return changed


QUICK_PARAMETERS: dict[str, object] = {"QUICK": True, "MODEL": "jam-tiny"}


class NotebookRunError(RuntimeError):
    """A notebook cell failed while executing headless; the message holds the cell and its traceback."""


def inject_parameters(nb: nbformat.NotebookNode, values: dict[str, object]) -> nbformat.NotebookNode:
    """Papermill convention: a cell tagged `injected-parameters` right after the `parameters` cell."""
    lines = "\n".join(f"{key} = {value!r}" for key, value in values.items())
    cell = code(f"# Parameters injected for a headless run\n{lines}", tags=("injected-parameters",))
    cell["id"] = "injected-parameters"
    for index, existing in enumerate(nb.cells):
        if "parameters" in existing.get("metadata", {}).get("tags", []):
            nb.cells.insert(index + 1, cell)
            return nb
    raise NotebookRunError("the notebook has no cell tagged 'parameters' to inject quick-run values after")


def execute_notebook(
    path: Path, parameters: dict[str, object] | None = None, timeout: int = 600, kernel: str = "python3"
) -> tuple[nbformat.NotebookNode, float]:
    """Run a notebook headless in its own folder with `parameters` injected; return it and its wall seconds.

    Raises `NotebookRunError` naming the failing cell, its source and the traceback.
    """
    import time

    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    inject_parameters(nb, QUICK_PARAMETERS if parameters is None else parameters)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # tracebacks come coloured
        raise NotebookRunError(f"{path.name} failed:\n{plain}") from None
    return nb, time.perf_counter() - start
