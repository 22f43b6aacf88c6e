"""Every course notebook: stored clean, standard header, and executes headless offline with quick parameters."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from lorajam import course

ROOT = course.REPO_ROOT
ALL = course.course_notebooks()
EXECUTED = course.course_notebooks(dirs=("notebooks", "solutions"))
TIMES = ROOT / "build" / "notebook-times.json"


def ids(paths: list[Path]) -> list[str]:
    return [p.relative_to(ROOT).as_posix() for p in paths]


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_course_has_notebooks():
    assert (ROOT / "notebooks" / "00_welcome.ipynb") in ALL


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    code_cells = [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    dirty = [i for i, c in code_cells if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"cells {dirty} of {path.name} have outputs: rebuild it with its scripts/notebooks script"


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_standard_header(path):
    cells = nbformat.read(path, as_version=4).cells
    first = cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "first cell: a '# Title'"
    assert re.search(r"^- ", first.source, re.M), "first cell lists learning objectives"
    badge = course.colab_url(path.relative_to(ROOT).as_posix(), course.settings())
    assert any(badge in c.source for c in cells[:3]), f"missing Open-in-Colab badge {badge}"
    setup = next(c for c in cells if "setup" in tags(c))
    assert "google.colab" in setup.source and course.install_spec(course.settings()) in setup.source
    params = [i for i, c in enumerate(cells) if "parameters" in tags(c)]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    for name in ("QUICK", "MODEL", "SEED"):
        assert re.search(rf"^{name}\s*=", cells[params[0]].source, re.M), f"parameters cell defines {name}"
    banner = cells[params[0] + 1]
    assert "runtime.setup(" in banner.source, "the cell after parameters prints the runtime banner"


GRADED = [p for p in ALL if p.parts[-2] in ("labs", "quizzes") or "solutions" in p.parts]


@pytest.mark.parametrize("path", GRADED, ids=ids(GRADED))
def test_graded_notebooks_keep_nbgrader_metadata(path):
    cells = nbformat.read(path, as_version=4).cells
    graded = [c for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert graded, f"{path.name} lost its nbgrader metadata"
    assert all(c.metadata.nbgrader.get("grade_id") for c in graded)


@pytest.mark.slow
@pytest.mark.parametrize("path", EXECUTED, ids=ids(EXECUTED))
def test_executes_headless_offline(path):
    _, seconds = course.execute_notebook(path, timeout=300)
    TIMES.parent.mkdir(exist_ok=True)
    record = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    record[path.relative_to(ROOT).as_posix()] = round(seconds, 1)
    TIMES.write_text(json.dumps(record, indent=2, sort_keys=True))
    print(f"{path.name}: {seconds:.1f} s")


def test_harness_reports_the_failing_cell(tmp_path):
    params = "QUICK = False\nMODEL = 'auto'\nSEED = 0"
    cells = course.header_cells("notebooks/x.ipynb", "Broken", ["fail on purpose"], params)
    cells = [c for c in cells if "banner" not in tags(c)] + [course.code("assert QUICK is True\n1 / 0")]
    path = course.write_notebook(tmp_path / "broken.ipynb", cells)
    with pytest.raises(course.NotebookRunError, match="ZeroDivisionError") as err:
        course.execute_notebook(path)
    assert "1 / 0" in str(err.value) and "broken.ipynb" in str(err.value)


def test_released_student_notebooks_are_up_to_date():
    """`labs/` and `quizzes/` are generated from `solutions/` by `lorajam release`: CI fails when they are stale."""
    pytest.importorskip("nbgrader")
    from lorajam.grading import stale_releases

    stale = stale_releases()
    assert not stale, f"stale student notebooks {stale}: run `make release` and commit the result"
