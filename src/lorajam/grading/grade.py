"""``lorajam grade``: repair, sandbox and autograde every submission in parallel, merge into one gradebook."""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from .config import UsageError, ensure_tools_on_path, nbgrader_config, write_course_config
from .release import normalise
from .repair import SubmissionError, load, repair
from .submissions import Problem, discover, unzip
from .worker import Job, JobResult, run

STATE = ".lorajam"


@dataclass
class Options:
    assignment: str
    submissions: Path
    course: Path
    solutions: Path
    workers: int = 0
    timeout: int = 300
    notebook_timeout: int = 0  # 0: 10 x timeout, at least 600 s
    memory_mb: int = 2048
    regex: str | None = None
    sandbox: bool = True
    feedback: bool = True
    progress: bool = True


@dataclass
class Outcome:
    graded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    repairs: dict[str, list[str]] = field(default_factory=dict)


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()


def _source_digest(solutions: Path, assignment: str) -> str:
    folder = solutions / assignment
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts)
    return _digest(*(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes() for p in files))


def _api(root: Path, solutions: Path, db: Path | None = None, timeout: int = 60):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = nbgrader_config(root, solutions, db=db, timeout=timeout)
    return NbGraderAPI(CourseDirectory(config=cfg), config=cfg), cfg


def _generate(root: Path, solutions: Path, assignment: str, db: Path | None = None) -> None:
    api, _ = _api(root, solutions, db)
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result["success"]:
        raise UsageError(f"nbgrader generate_assignment {assignment} failed; fix the source notebook:\n"
                         + (result.get("log") or "") + (result.get("error") or ""))


def prepare_course(opts: Options) -> str:
    """Create the grading folder and register the assignment in its gradebook (again if the source changed)."""
    if not (opts.solutions / opts.assignment / f"{opts.assignment}.ipynb").is_file():
        raise UsageError(f"no source notebook {opts.solutions / opts.assignment / (opts.assignment + '.ipynb')}; "
                         "ASSIGNMENT must be a folder name under solutions/")
    write_course_config(opts.course, opts.solutions, opts.timeout)
    state = opts.course / STATE
    state.mkdir(exist_ok=True)
    digest = _source_digest(opts.solutions, opts.assignment)
    mark = state / f"{opts.assignment}.source"
    if not (opts.course / "gradebook.db").is_file():
        _manifest_path(opts).unlink(missing_ok=True)  # a new gradebook: nothing graded yet
    template = _template_path(opts)
    if not (mark.is_file() and mark.read_text() == digest and (opts.course / "gradebook.db").is_file()
            and template.is_file()):
        _generate(opts.course, opts.solutions, opts.assignment)
        # a gradebook holding only this assignment: every worker starts from a copy of it
        template.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory(prefix="lorajam-template-") as tmp:
            _generate(Path(tmp), opts.solutions, opts.assignment, db=Path(tmp) / "gradebook.db")
            shutil.copyfile(Path(tmp) / "gradebook.db", template)
        mark.write_text(digest)
    return digest


def _template_path(opts: Options) -> Path:
    return opts.course / STATE / f"{opts.assignment}.template.db"


def _manifest_path(opts: Options) -> Path:
    return opts.course / STATE / f"{opts.assignment}.json"


def load_manifest(opts: Options) -> dict:
    p = _manifest_path(opts)
    return json.loads(p.read_text()) if p.is_file() else {}


def _save_manifest(opts: Options, manifest: dict) -> None:
    p = _manifest_path(opts)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, p)


def merge(gb, assignment: str, result: JobResult) -> None:
    """Write one student's auto scores into the main gradebook in a single transaction."""
    from nbgrader.api import Comment, Grade, SubmittedAssignment, SubmittedNotebook

    db = gb.db
    try:
        student = gb.update_or_create_student(result.student)
        try:
            sub = gb.find_submission(assignment, result.student)
        except Exception:  # noqa: BLE001 - MissingEntry: mirror Gradebook.add_submission without its commit
            sub = SubmittedAssignment(assignment=gb.find_assignment(assignment), student=student)
            for notebook in sub.assignment.notebooks:
                snb = SubmittedNotebook(notebook=notebook, assignment=sub)
                for cell in notebook.grade_cells:
                    Grade(cell_id=cell.id, notebook=snb)
                for cell in notebook.solution_cells:
                    Comment(cell_id=cell.id, notebook=snb)
                for cell in notebook.task_cells:
                    Comment(cell_id=cell.id, notebook=snb)
                    Grade(cell_id=cell.id, notebook=snb)
            db.add(sub)
            db.flush()
        for snb in sub.notebooks:
            for g in snb.grades:
                got = result.grades.get(g.name)
                if got is not None:
                    g.auto_score = got["auto_score"]
                    g.needs_manual_grade = got["needs_manual_grade"]
            for c in snb.comments:
                if c.name in result.comments:
                    c.auto_comment = result.comments[c.name]
        db.commit()
    except BaseException:
        db.rollback()
        raise


def _copy_back(opts: Options, result: JobResult) -> None:
    if result.course is None:
        return
    for kind in ("submitted", "autograded", "feedback"):
        src = result.course / kind / result.student / opts.assignment
        dest = opts.course / kind / result.student / opts.assignment
        if src.is_dir():
            tmp = dest.with_name(dest.name + ".new")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp)
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(tmp, dest)


def _released(opts: Options) -> nbformat.NotebookNode:
    path = opts.course / "release" / opts.assignment / f"{opts.assignment}.ipynb"
    return normalise(nbformat.read(path, as_version=4))


def grade(opts: Options) -> Outcome:
    """Grade every submission under ``opts.submissions``; see :func:`lorajam.grading.cli_grade`."""
    from nbgrader.api import Gradebook
    from tqdm.auto import tqdm

    ensure_tools_on_path()
    opts.course = opts.course.resolve()
    opts.solutions = opts.solutions.resolve()
    if not opts.submissions.exists():
        raise UsageError(f"SUBMISSIONS {opts.submissions} does not exist (a folder or a .zip)")
    source_digest = prepare_course(opts)
    workers = opts.workers or os.cpu_count() or 1
    nb_timeout = opts.notebook_timeout or max(600, 10 * opts.timeout)
    out = Outcome()
    manifest = load_manifest(opts)
    released = _released(opts)
    source = nbformat.read(opts.solutions / opts.assignment / f"{opts.assignment}.ipynb", as_version=4)
    with tempfile.TemporaryDirectory(prefix="lorajam-grade-") as tmpdir:
        tmp = Path(tmpdir)
        root = opts.submissions
        if root.is_file():
            if root.suffix.lower() != ".zip":
                raise UsageError(f"SUBMISSIONS {root} is a file but not a .zip")
            (tmp / "unzipped").mkdir()
            root = unzip(root, tmp / "unzipped")
        subs, out.problems = discover(root, opts.assignment, opts.regex)
        jobs: list[Job] = []
        digests: dict[str, str] = {}
        for s in subs:
            data = s.path.read_bytes()
            digest = _digest(data, source_digest.encode(), str(opts.sandbox).encode())
            prev = manifest.get(s.student)
            if prev and prev.get("digest") == digest:
                out.reused.append(s.student)
                out.repairs[s.student] = prev.get("repairs", [])
                continue
            try:
                fixed = repair(load(data), released, source)
            except SubmissionError as e:
                out.problems.append(Problem(s.label, str(e)))
                continue
            out.repairs[s.student] = fixed.log
            digests[s.student] = digest
            work = tmp / "jobs" / s.student
            work.mkdir(parents=True)
            jobs.append(Job(opts.assignment, s.student, nbformat.writes(fixed.nb), opts.solutions,
                            _template_path(opts), work, sandbox=opts.sandbox, timeout=opts.timeout,
                            notebook_timeout=nb_timeout, memory_mb=opts.memory_mb,
                            threads=max(1, (os.cpu_count() or 1) // min(workers, max(1, len(subs)))),
                            feedback=opts.feedback, repaired=fixed.repaired, missing=fixed.missing))
        labels = {s.student: s.label for s in subs}
        with Gradebook(f"sqlite:///{opts.course / 'gradebook.db'}") as gb:
            ctx = multiprocessing.get_context("spawn")
            pool = cf.ProcessPoolExecutor(max_workers=min(workers, max(1, len(jobs))), mp_context=ctx)
            futures: dict = {}
            try:
                futures = {pool.submit(run, j): j for j in jobs}
                bar = tqdm(total=len(jobs), desc=f"grading {opts.assignment}", unit="nb", disable=not opts.progress)
                for fut in cf.as_completed(futures):
                    res = fut.result()
                    bar.update(1)
                    if not res.ok:
                        out.problems.append(Problem(labels[res.student], res.reason))
                        continue
                    merge(gb, opts.assignment, res)
                    _copy_back(opts, res)
                    manifest[res.student] = {"digest": digests[res.student], "file": labels[res.student],
                                             "repairs": out.repairs.get(res.student, []),
                                             "grades": res.grades}
                    _save_manifest(opts, manifest)
                    out.graded.append(res.student)
                bar.close()
            except BaseException:
                for f in futures:
                    f.cancel()
                for p in list(getattr(pool, "_processes", {}).values()):
                    p.terminate()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()
    return out


def outcome_dict(o: Outcome) -> dict:
    return asdict(o)
