"""Find student submissions: a folder of ``<student>.ipynb``, of ``<student>/`` folders, or a ``.zip`` of either."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .config import UsageError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
_SKIP = ("__MACOSX", ".ipynb_checkpoints", ".DS_Store")
MAX_UNZIPPED = 2 * 1024**3


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path
    label: str  # as the instructor sees it (relative to SUBMISSIONS)


@dataclass(frozen=True)
class Problem:
    label: str
    reason: str


def _skipped(p: Path) -> bool:
    return any(part in _SKIP or part.startswith("._") for part in p.parts)


def unzip(archive: Path, dest: Path) -> Path:
    """Extract ``archive`` safely (no paths outside ``dest``, bounded size); return the folder to scan."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if sum(i.file_size for i in infos) > MAX_UNZIPPED:
                raise UsageError(f"{archive}: unzips to more than {MAX_UNZIPPED >> 30} GiB; unpack it yourself")
            for info in infos:
                target = (dest / info.filename).resolve()
                if not target.is_relative_to(dest.resolve()):
                    raise UsageError(f"{archive}: entry {info.filename!r} points outside the archive")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(info))
    except zipfile.BadZipFile as e:
        raise UsageError(f"{archive}: not a readable .zip ({e})") from None
    entries = [p for p in dest.iterdir() if not _skipped(p.relative_to(dest))]
    if len(entries) == 1 and entries[0].is_dir() and len(list(entries[0].iterdir())) > 1:
        return entries[0]  # the usual single wrapper folder of LMS exports
    return dest


def _pick(folder: Path, assignment: str) -> tuple[Path | None, str]:
    nbs = sorted(p for p in folder.rglob("*.ipynb") if not _skipped(p.relative_to(folder)))
    if len(nbs) == 1:
        return nbs[0], ""
    named = [p for p in nbs if p.stem == assignment]
    if len(named) == 1:
        return named[0], ""
    return None, "no notebook in the folder" if not nbs else \
        f"{len(nbs)} notebooks in the folder ({', '.join(p.name for p in nbs[:4])}); keep one"


def discover(root: Path, assignment: str, regex: str | None = None) -> tuple[list[Submission], list[Problem]]:
    """Map files under ``root`` to students; everything that cannot be graded becomes a :class:`Problem`."""
    found: list[Submission] = []
    problems: list[Problem] = []
    if regex:
        try:
            pat = re.compile(regex)
        except re.error as e:
            raise UsageError(f"--student-regex {regex!r} is not a valid regular expression: {e}") from None
        if "student" not in pat.groupindex:
            raise UsageError("--student-regex needs a named group 'student', e.g. '(?P<student>[^_]+)_.*'")
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root).as_posix()
            if not p.is_file() or _skipped(p.relative_to(root)):
                continue
            m = pat.search(rel)
            if p.suffix != ".ipynb":
                problems.append(Problem(rel, f"not a notebook ({p.suffix or 'no extension'})"))
            elif not m or not m.group("student"):
                problems.append(Problem(rel, "file name does not match --student-regex"))
            else:
                found.append(Submission(m.group("student"), p, rel))
    else:
        for p in sorted(root.iterdir()):
            rel = p.name
            if _skipped(Path(rel)):
                continue
            if p.is_dir():
                nb, why = _pick(p, assignment)
                if nb is None:
                    problems.append(Problem(rel + "/", why))
                else:
                    found.append(Submission(p.name, nb, nb.relative_to(root).as_posix()))
            elif p.suffix == ".ipynb":
                found.append(Submission(p.stem, p, rel))
            else:
                problems.append(Problem(rel, f"not a notebook ({p.suffix or 'no extension'})"))
    ok: list[Submission] = []
    for s in found:
        if not STUDENT_ID.match(s.student):
            problems.append(Problem(s.label, f"student id {s.student!r} has characters nbgrader cannot use; "
                                             "rename the file or pass --student-regex"))
            continue
        twins = [t for t in found if t.student.lower() == s.student.lower()]
        if len(twins) > 1:
            problems.append(Problem(s.label, f"duplicate student id {s.student!r} (also "
                                             f"{', '.join(t.label for t in twins if t is not s)}); "
                                             "keep one file per student"))
            continue
        ok.append(s)
    return ok, problems
