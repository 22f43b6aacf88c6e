"""Fast tests of the instructor pipeline: release, Colab repair, submission discovery, CLI errors (no kernels)."""

from __future__ import annotations

import copy
import shutil
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader")

from lorajam.grading import cli_grade, cli_release  # noqa: E402
from lorajam.grading.config import UsageError  # noqa: E402
from lorajam.grading.release import generate, release  # noqa: E402
from lorajam.grading.repair import SubmissionError, load, repair  # noqa: E402
from lorajam.grading.submissions import discover, unzip  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "grading"
sys.path.insert(0, str(FIXTURES))
import corpus  # noqa: E402

NAME = "quiz0_demo"


@pytest.fixture(scope="module")
def released():
    return nbformat.reads(generate(FIXTURES / "solutions")[NAME], as_version=4)


@pytest.fixture(scope="module")
def source():
    return nbformat.read(FIXTURES / "solutions" / NAME / f"{NAME}.ipynb", as_version=4)


def _grade_ids(nb) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]


def test_release_is_deterministic_stripped_and_checkable(tmp_path, released):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "solutions", repo / "solutions")
    assert release(repo) == [f"quizzes/{NAME}.ipynb"]
    out = repo / "quizzes" / f"{NAME}.ipynb"
    first = out.read_bytes()
    assert release(repo) == []  # second run: nothing changes
    assert out.read_bytes() == first
    text = first.decode()
    assert "return x * x" not in text and "square(-4)" not in text  # solution and hidden test removed
    nb = nbformat.reads(text, as_version=4)
    assert all(c.get("outputs", []) == [] for c in nb.cells)
    assert _grade_ids(nb) == _grade_ids(released)
    assert cli_release(["--course-dir", str(repo), "--check"]) == 0
    out.write_text(text.replace("Quiz 0", "Quiz zero"))
    assert release(repo, check=True) == [f"quizzes/{NAME}.ipynb"]
    assert cli_release(["--course-dir", str(repo), "--check"]) == 1
    assert out.read_text() != text  # --check writes nothing
    assert cli_release(["--course-dir", str(repo)]) == 0
    assert out.read_bytes() == first


def test_release_rejects_names_without_lab_or_quiz_prefix(tmp_path, capsys):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "solutions" / NAME, repo / "solutions" / "hw1")
    (repo / "solutions" / "hw1" / f"{NAME}.ipynb").rename(repo / "solutions" / "hw1" / "hw1.ipynb")
    assert cli_release(["--course-dir", str(repo)]) == 2
    assert "must start with 'lab' or 'quiz'" in capsys.readouterr().err


def test_colab_round_trip_is_repaired(released, source):
    sub = load(corpus.colab(corpus.filled(released), new_ids=True).encode())
    assert not any("nbgrader" in c.metadata for c in sub.cells)
    fixed = repair(sub, released, source)
    assert _grade_ids(fixed.nb) == _grade_ids(released)
    assert fixed.repaired == {"test_square", "test_mean", "test_answer"} and not fixed.missing
    answer = next(c for c in fixed.nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "answer")
    assert answer.source == 'ANSWER = "b"'  # matched through the instructor's `ANSWER =` signature
    assert "colab" not in fixed.nb.metadata and all("colab" not in c.metadata for c in fixed.nb.cells)
    assert fixed.nb.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(fixed.nb)


def test_deleted_test_cell_reinserted_and_points_restored(released, source):
    nb = corpus.filled(released)
    tm = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_mean")
    nb.cells.remove(tm)
    ts = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_square")
    ts.metadata["nbgrader"]["points"] = 100
    nb.cells.append(copy.deepcopy(ts))  # a duplicated graded cell
    fixed = repair(load(nbformat.writes(nb).encode()), released, source)
    ids = _grade_ids(fixed.nb)
    assert ids == _grade_ids(released)  # re-inserted in place, duplicate stripped
    pts = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"].get("points") for c in fixed.nb.cells
           if "nbgrader" in c.metadata}
    assert pts["test_square"] == 2 and pts["test_mean"] == 3
    assert fixed.repaired == {"test_square", "test_mean"}
    assert any("points: 100 -> 2" in line for line in fixed.log)
    assert any("stray nbgrader metadata" in line for line in fixed.log)


def test_deleted_answer_cell_is_missing(released, source):
    nb = corpus.filled(released)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "mean"]
    fixed = repair(load(nbformat.writes(nb).encode()), released, source)
    assert fixed.missing == {"test_mean"}
    assert _grade_ids(fixed.nb) == _grade_ids(released)


@pytest.mark.parametrize("data", [b'{"cells": [', b"%PDF-1.4 binary", b'["a list"]', b'{"cells": [{"source": 1}]}'])
def test_not_a_notebook(data):
    with pytest.raises(SubmissionError, match="not a"):
        load(data)


def test_discover_layouts_duplicates_and_strays(tmp_path):
    nb = nbformat.writes(nbformat.v4.new_notebook())
    root = tmp_path / "subs"
    (root / "carol").mkdir(parents=True)
    (root / "alice.ipynb").write_text(nb)
    (root / "carol" / f"{NAME}.ipynb").write_text(nb)
    (root / "carol" / "scratch.ipynb").write_text(nb)
    (root / "dan").mkdir()
    (root / "dan" / "anything.ipynb").write_text(nb)
    (root / "Alice").mkdir()
    (root / "Alice" / "x.ipynb").write_text(nb)
    (root / "readme.pdf").write_bytes(b"%PDF")
    (root / "bad name!.ipynb").write_text(nb)
    (root / ".ipynb_checkpoints").mkdir()
    found, problems = discover(root, NAME)
    assert {s.student: s.label for s in found} == {"carol": f"carol/{NAME}.ipynb", "dan": "dan/anything.ipynb"}
    reasons = {p.label: p.reason for p in problems}
    assert set(reasons) == {"alice.ipynb", "Alice/x.ipynb", "readme.pdf", "bad name!.ipynb"}
    assert "duplicate student id" in reasons["alice.ipynb"] and "not a notebook" in reasons["readme.pdf"]


def test_discover_zip_and_regex(tmp_path):
    nb = nbformat.writes(nbformat.v4.new_notebook())
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("export/ann_12345_lab.ipynb", nb)
        zf.writestr("export/ben_999_lab.ipynb", nb)
        zf.writestr("__MACOSX/export/._ann_12345_lab.ipynb", "junk")
    root = unzip(archive, tmp_path / "x")
    found, problems = discover(root, NAME, r"(?P<student>[a-z]+)_\d+_lab\.ipynb$")
    assert sorted(s.student for s in found) == ["ann", "ben"] and problems == []
    with pytest.raises(UsageError, match="named group 'student'"):
        discover(root, NAME, r"([a-z]+)_")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.ipynb", nb)
    with pytest.raises(UsageError, match="outside the archive"):
        unzip(evil, tmp_path / "y")
    assert not (tmp_path / "escape.ipynb").exists()


def test_cli_usage_errors(tmp_path, capsys, monkeypatch):
    assert cli_grade([]) == 2
    assert cli_grade([NAME, str(tmp_path / "nope"), "--course-dir", str(tmp_path / "c"),
                      "--solutions", str(FIXTURES / "solutions")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli_grade([NAME, str(tmp_path), "--workers", "0"]) == 2
    assert cli_grade(["quiz9_none", str(tmp_path), "--course-dir", str(tmp_path / "c"),
                      "--solutions", str(FIXTURES / "solutions")]) == 2
    assert "no source notebook" in capsys.readouterr().err
    import lorajam.grading.sandbox as sandbox

    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    assert cli_grade([NAME, str(tmp_path), "--course-dir", str(tmp_path / "c")]) == 2
    assert "'bubblewrap' package" in capsys.readouterr().err
    import lorajam.grading.cli as cli

    monkeypatch.setattr(cli, "nbgrader_missing", lambda: "nbgrader is not installed; pip install 'lorajam[instructor]'")
    assert cli_release([]) == 2 and cli_grade([NAME, str(tmp_path)]) == 2
    assert "pip install 'lorajam[instructor]'" in capsys.readouterr().err


def test_nbgrader_missing_message(monkeypatch):
    import builtins

    from lorajam.grading.config import nbgrader_missing

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "nbgrader":
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    assert "pip install 'lorajam[instructor]'" in nbgrader_missing()
