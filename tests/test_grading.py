"""End-to-end grading of the adversarial corpus: exact scores, sandbox containment, idempotent re-runs.

One sandboxed `lorajam grade` run over tests/fixtures/grading/corpus.py (short timeouts), then checks.
Needs bubblewrap (`apt-get install bubblewrap`) for the sandboxed runs.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import socket
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader")

from lorajam.grading import cli_grade  # noqa: E402
from lorajam.grading.release import generate  # noqa: E402
from lorajam.grading.sandbox import bwrap_path  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "grading"
sys.path.insert(0, str(FIXTURES))
import corpus  # noqa: E402

NAME = "quiz0_demo"
FAST = ["--timeout", "5", "--notebook-timeout", "60", "--memory", "512", "--workers", "2", "--quiet"]
needs_bwrap = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap (bwrap) is not installed")
pytestmark = [pytest.mark.slow]


def snapshot(*roots: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for r in roots for p in sorted(r.rglob("*")) if p.is_file()}


def scores(course: Path) -> dict[str, dict[str, tuple[float, str]]]:
    out: dict[str, dict[str, tuple[float, str]]] = {}
    with open(course / "scores.csv") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["student"], {})[row["grade_id"]] = (float(row["score"]), row["status"])
    return out


class World:
    """Temporary solutions, submissions and course folders plus the secrets a kernel must not reach."""

    def __init__(self, tmp: Path, sandboxed: bool = True):
        self.tmp = tmp
        self.solutions = tmp / "solutions"
        shutil.copytree(FIXTURES / "solutions", self.solutions)
        self.course = tmp / "course"
        self.subs = tmp / "subs"
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.server.setblocking(False)
        self.canaries = [self.course / "canary.txt", self.subs / "canary.txt", tmp / "canary.txt"]
        if sandboxed:  # the read-only Python install: only try to write there when confined
            self.canaries.append(Path(sys.prefix) / "canary.txt")
        self.secrets = {
            "read": [str(self.course / "gradebook.db"), "../gradebook.db", "../../gradebook.db",
                     str(self.solutions / NAME / f"{NAME}.ipynb"), str(self.subs / "alice.ipynb"),
                     "/etc/shadow", str(Path.home() / ".bashrc")],
            "dirs": [str(self.course), str(self.subs), str(tmp), str(Path.home() / ".ssh")],
            "write": [str(p) for p in self.canaries],
            "port": self.server.getsockname()[1],
        }
        self.released = nbformat.reads(generate(self.solutions)[NAME], as_version=4)

    def grade(self, *extra: str) -> int:
        return cli_grade([NAME, str(self.subs), "--course-dir", str(self.course),
                          "--solutions", str(self.solutions), *FAST, *extra])

    def connections(self) -> int:
        n = 0
        while True:
            try:
                self.server.accept()[0].close()
                n += 1
            except BlockingIOError:
                return n


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The corpus graded once, sandboxed; yields (world, expected, exit code, stderr, instructor snapshot)."""
    if bwrap_path() is None:
        pytest.skip("bubblewrap (bwrap) is not installed")
    w = World(tmp_path_factory.mktemp("grading"))
    expected = corpus.build(w.subs, w.released, w.secrets)
    before = snapshot(w.solutions, w.subs)
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = w.grade()
    yield w, expected, rc, err.getvalue(), before
    w.server.close()


@needs_bwrap
def test_exact_scores(graded):
    w, expected, rc, _, _ = graded
    got = scores(w.course)
    assert {s: {g: v[0] for g, v in cells.items()} for s, cells in got.items()} == expected
    assert rc == 1  # some files could not be graded


@needs_bwrap
def test_statuses(graded):
    got = scores(graded[0].course)
    status = {s: {g: v[1] for g, v in cells.items()} for s, cells in got.items()}
    assert status["alice"] == {"test_square": "ok", "test_mean": "ok", "test_answer": "ok"}
    assert set(status["blank"].values()) == {"failed"}
    assert status["looper"]["test_square"] == "timeout"
    assert status["forker"]["test_answer"] == "timeout"
    assert status["crasher"]["test_mean"] == "error"
    assert status["hog"]["test_mean"] == "failed"
    assert set(status["colab"].values()) == set(status["colab_ids"].values()) == {"repaired"}
    assert status["tamper"] == {"test_square": "failed", "test_mean": "repaired", "test_answer": "ok"}
    assert status["pointy"] == {"test_square": "repaired", "test_mean": "repaired", "test_answer": "ok"}


@needs_bwrap
def test_ungradable_files_are_listed(graded):
    _, _, _, err, _ = graded
    for label in corpus.UNGRADABLE:
        assert f"NOT GRADED {label}:" in err
    assert "invalid JSON" in err and "duplicate student id" in err and "not a notebook (.txt)" in err
    assert err.count("NOT GRADED") == len(corpus.UNGRADABLE)


@needs_bwrap
def test_sandbox_contains_the_snoop(graded):
    w = graded[0]
    nb = nbformat.read(w.course / "autograded" / "snoop" / NAME / f"{NAME}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "LEAKS []" in printed
    assert w.connections() == 0
    assert not any(p.exists() for p in w.canaries)


@needs_bwrap
def test_instructor_files_untouched_and_outputs_written(graded):
    w, _, _, _, before = graded
    assert snapshot(w.solutions, w.subs) == before
    for out in ("gradebook.db", "grades.csv", "scores.csv", "summary.png", "nbgrader_config.py"):
        assert (w.course / out).is_file(), out
    assert (w.course / "feedback" / "alice" / NAME / f"{NAME}.html").is_file()
    spam = w.course / "autograded" / "spammer" / NAME / f"{NAME}.ipynb"
    assert spam.stat().st_size < 2_000_000  # the print loop was capped
    with open(w.course / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["student_id"] for r in rows if r["assignment"] == NAME) == sorted(graded[1])


@needs_bwrap
def test_rerun_is_idempotent_and_regrades_changes(graded):
    w, expected, _, _, _ = graded
    from nbgrader.api import Gradebook

    def grade_rows() -> int:
        with Gradebook(f"sqlite:///{w.course / 'gradebook.db'}") as gb:
            return sum(len(nb.grades) for s in gb.assignment_submissions(NAME) for nb in s.notebooks)

    n, first, keep = grade_rows(), (w.course / "scores.csv").read_text(), snapshot(w.course / "release")
    assert w.grade() == 1
    assert (w.course / "scores.csv").read_text() == first and grade_rows() == n
    assert snapshot(w.course / "release") == keep
    bob = w.subs / "bob.ipynb"
    bob.write_text(nbformat.writes(corpus.filled(w.released)))
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert w.grade() == 1
    assert "graded 1, unchanged 13" in out.getvalue()
    got = scores(w.course)
    assert {g: v[0] for g, v in got["bob"].items()} == {"test_square": 2, "test_mean": 3, "test_answer": 1}
    assert {g: v[0] for g, v in got["alice"].items()} == expected["alice"] and grade_rows() == n


def test_without_sandbox_the_snoop_leaks(tmp_path, capsys):
    """Control experiment: the same snoop, unconfined, reads the gradebook and loses its points."""
    w = World(tmp_path, sandboxed=False)
    corpus.build(tmp_path / "all", w.released, w.secrets)
    w.subs.mkdir()
    shutil.copy(tmp_path / "all" / "snoop.ipynb", w.subs / "snoop.ipynb")
    assert w.grade("--no-sandbox", "--no-feedback") == 0
    assert "--no-sandbox" in capsys.readouterr().err
    assert scores(w.course)["snoop"]["test_square"] == (0.0, "failed")
    assert (w.course / "canary.txt").exists()
    assert w.connections() == 1
    w.server.close()
