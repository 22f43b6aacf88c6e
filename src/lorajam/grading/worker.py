"""Grade one submission in its own temporary nbgrader course (runs in a worker process)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .config import ensure_tools_on_path, nbgrader_config
from .execute import CELL_TIMEOUT, DEAD_KERNEL, NOTEBOOK_TIMEOUT, SandboxExecute
from .sandbox import SandboxSettings


@dataclass
class Job:
    assignment: str
    student: str
    notebook: str  # repaired notebook JSON
    solutions: Path
    template_db: Path
    work: Path  # an empty folder owned by this job
    sandbox: bool = True
    timeout: int = 60
    notebook_timeout: int = 600
    memory_mb: int = 2048
    threads: int = 1
    feedback: bool = True
    repaired: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)


@dataclass
class JobResult:
    student: str
    ok: bool
    reason: str = ""
    # grade_id -> {notebook, auto_score, max_score, needs_manual_grade, status}
    grades: dict[str, dict] = field(default_factory=dict)
    comments: dict[str, str | None] = field(default_factory=dict)
    course: Path | None = None  # the temporary course with autograded/ and feedback/


def _kind(outputs) -> str | None:
    names = {o.get("ename") for o in outputs if o.get("output_type") == "error"}
    if names & {CELL_TIMEOUT, NOTEBOOK_TIMEOUT}:
        return "timeout"
    if DEAD_KERNEL in names:
        return "error"
    return "failed" if names else None


def cell_statuses(nb, scores: dict[str, dict], repaired: set[str], missing: set[str]) -> dict[str, str]:
    """Status per grade cell from the executed notebook: ok, failed, timeout, error, missing, repaired.

    A timeout or kernel death in an earlier cell since the previous grade cell is charged to this one.
    """
    out: dict[str, str] = {}
    trouble: str | None = None
    for cell in nb.cells:
        kind = _kind(cell.get("outputs", [])) if cell.cell_type == "code" else None
        if kind in ("timeout", "error"):
            trouble = trouble or kind
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if not meta.get("grade") or gid not in scores:
            continue
        g = scores[gid]
        full = g["auto_score"] is not None and g["auto_score"] >= g["max_score"]
        if full or g["needs_manual_grade"]:
            status = "repaired" if gid in repaired else "ok"
        elif kind in ("timeout", "error"):
            status = kind
        elif trouble:
            status = trouble
        else:
            status = "missing" if gid in missing else "failed"
        out[gid] = status
        trouble = None
    return out


def run(job: Job) -> JobResult:
    """Autograde ``job`` with nbgrader in a fresh course under ``job.work``; never raises."""
    try:
        return _run(job)
    except Exception as e:  # noqa: BLE001 - one broken submission must not stop the others
        return JobResult(job.student, False, f"grader error: {e.__class__.__name__}: {e}")


def _run(job: Job) -> JobResult:
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import Execute

    ensure_tools_on_path()
    root = job.work / "course"
    sub = root / "submitted" / job.student / job.assignment
    sub.mkdir(parents=True)
    (sub / f"{job.assignment}.ipynb").write_text(job.notebook)
    db = root / "gradebook.db"
    shutil.copyfile(job.template_db, db)

    config = nbgrader_config(root, job.solutions, timeout=job.timeout)
    from nbgrader.converters import Autograde

    config.Autograde.autograde_preprocessors = [
        SandboxExecute if p is Execute else p for p in Autograde.class_traits()["autograde_preprocessors"].default()]
    SandboxExecute.settings = SandboxSettings(
        scratch=job.work / "scratch", enabled=job.sandbox, memory_mb=job.memory_mb,
        cpu_seconds=job.notebook_timeout + 30, threads=job.threads)
    SandboxExecute.notebook_timeout = job.notebook_timeout
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    result = api.autograde(job.assignment, job.student)
    if not result["success"]:
        if os.environ.get("LORAJAM_GRADING_DEBUG"):
            print(result.get("log"), result.get("error"))
        tail = (result.get("log") or result.get("error") or "").strip().splitlines()[-3:]
        return JobResult(job.student, False, "nbgrader autograde failed: " + " | ".join(tail), course=root)
    if job.feedback:
        api.generate_feedback(job.assignment, job.student)

    scores: dict[str, dict] = {}
    comments: dict[str, str | None] = {}
    with Gradebook(f"sqlite:///{db}") as gb:
        for snb in gb.find_submission(job.assignment, job.student).notebooks:
            for g in snb.grades:
                scores[g.name] = {"notebook": snb.name, "auto_score": g.auto_score, "max_score": g.max_score,
                                  "needs_manual_grade": bool(g.needs_manual_grade)}
            for c in snb.comments:
                comments[c.name] = c.auto_comment
    graded = root / "autograded" / job.student / job.assignment / f"{job.assignment}.ipynb"
    nb = nbformat.read(graded, as_version=4)
    for gid, st in cell_statuses(nb, scores, job.repaired, job.missing).items():
        scores[gid]["status"] = st
    for g in scores.values():
        g.setdefault("status", "ok" if g["needs_manual_grade"] else "failed")
    return JobResult(job.student, True, grades=scores, comments=comments, course=root)
