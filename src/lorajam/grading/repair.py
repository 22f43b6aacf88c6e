"""Colab repair: validate a submitted notebook and re-attach nbgrader metadata from the released version.

Colab (and students) can drop or alter cell metadata, delete test cells or duplicate cells; nbgrader
then silently scores those cells 0.  :func:`repair` matches every nbgrader cell of the released notebook
to a cell of the submission (by grade_id, then by Colab/nbformat cell id, then by a source signature
such as ``def name(``), restores its metadata, re-inserts cells that were deleted and rebuilds the
notebook with only the metadata nbgrader needs.  It works on a copy and reports every change.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

_KEEP_CELL_META = ("nbgrader", "tags", "deletable", "editable")
_SIG = re.compile(r"^\s*(?:def|class)\s+(\w+)|^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)", re.M)
_ID_OK = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class SubmissionError(Exception):
    """The file cannot be graded at all (not JSON, not a notebook)."""


@dataclass
class RepairResult:
    """The repaired notebook, a log of changes, and the grade cells whose score relied on a repair."""

    nb: NotebookNode
    log: list[str] = field(default_factory=list)
    repaired: set[str] = field(default_factory=set)  # grade_ids
    missing: set[str] = field(default_factory=set)  # grade_ids whose answer cell had to be re-inserted blank


def load(data: bytes) -> NotebookNode:
    """Parse a submission; raise :class:`SubmissionError` with a readable reason if it is not a notebook."""
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SubmissionError(f"not a notebook: invalid JSON ({e.__class__.__name__}: {e})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", raw.get("worksheets")), list):
        raise SubmissionError("not a notebook: JSON without a 'cells' list")
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as e:  # noqa: BLE001 - nbformat raises many kinds
        raise SubmissionError(f"not a readable notebook ({e.__class__.__name__}: {e})") from None
    for cell in nb.cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise SubmissionError("not a readable notebook: a cell without a valid cell_type")
        src = cell.get("source", "")
        cell["source"] = "".join(src) if isinstance(src, list) else str(src)
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
    return nb


def _nbg(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _ids(cell) -> set[str]:
    return {i for i in (cell.get("id"), cell.get("metadata", {}).get("id")) if isinstance(i, str) and i}


def _signatures(src: str) -> set[str]:
    return {a or b for a, b in _SIG.findall(src)}


def _norm(src: str) -> str:
    return "\n".join(line.rstrip() for line in src.strip().splitlines())


def _match(released: list, sub: list, hints: dict[str, str]) -> dict[int, int]:
    """Map released nbgrader-cell index -> submission cell index.

    ``hints`` maps grade_id -> instructor source, whose signatures (``ANSWER =``) survive the solution stub.
    """
    def sigs(r) -> set[str]:
        return _signatures(r.source) | _signatures(hints.get(_nbg(r)["grade_id"], ""))

    targets = [i for i, c in enumerate(released) if _nbg(c)]
    used: set[int] = set()
    found: dict[int, int] = {}

    def claim(ri: int, pred) -> None:
        for si, sc in enumerate(sub):
            if si not in used and sc.cell_type == released[ri].cell_type and pred(sc):
                found[ri] = si
                used.add(si)
                return

    rules = [
        lambda r: lambda s: _nbg(s).get("grade_id") == _nbg(r)["grade_id"],
        lambda r: lambda s: bool(_ids(s) & _ids(r)),
        lambda r: lambda s: _norm(s.source) == _norm(r.source),
        lambda r: (lambda s: bool(_signatures(s.source) & sigs(r)))
        if _nbg(r).get("solution") and sigs(r) else (lambda s: False),
    ]
    for rule in rules:
        for ri in targets:
            if ri not in found:
                claim(ri, rule(released[ri]))
    # last resort for answer cells: the only unclaimed cell of the same type between its matched neighbours
    for ri in targets:
        if ri in found or not _nbg(released[ri]).get("solution"):
            continue
        lo = max((found[p] for p in range(ri) if p in found), default=-1)
        hi = min((found[p] for p in range(ri + 1, len(released)) if p in found), default=len(sub))
        gap = [si for si in range(lo + 1, hi) if si not in used and sub[si].cell_type == released[ri].cell_type]
        if len(gap) == 1:
            found[ri] = gap[0]
            used.add(gap[0])
    return found


def _clean(cell, cid: str, nbg: dict | None) -> NotebookNode:
    meta = {k: v for k, v in cell.get("metadata", {}).items() if k in _KEEP_CELL_META and k != "nbgrader"}
    if nbg:
        meta["nbgrader"] = dict(nbg)
    make = {"code": new_code_cell, "markdown": new_markdown_cell, "raw": new_raw_cell}[cell["cell_type"]]
    return make(source=cell.get("source", ""), metadata=meta, id=cid)


def _owner(released: list, ri: int) -> str | None:
    """The grade cell that grades released cell ``ri`` (itself, or the next grade cell after it)."""
    for c in released[ri:]:
        if _nbg(c).get("grade"):
            return _nbg(c)["grade_id"]
    return None


def repair(sub: NotebookNode, released: NotebookNode, source: NotebookNode | None = None) -> RepairResult:
    """Return a repaired copy of ``sub`` whose nbgrader cells match ``released`` (``source``: instructor version)."""
    rc, sc = released.cells, sub.cells
    hints = {_nbg(c)["grade_id"]: c.source for c in (source.cells if source else []) if _nbg(c).get("grade_id")}
    found = _match(rc, sc, hints)
    by_sub = {si: ri for ri, si in found.items()}
    res = RepairResult(nb=new_notebook(metadata=json.loads(json.dumps(released.metadata))))

    def note(ri: int, msg: str, missing: bool = False) -> None:
        gid = _nbg(rc[ri])["grade_id"]
        res.log.append(f"{gid}: {msg}")
        owner = _owner(rc, ri)
        if owner:
            (res.missing if missing and _nbg(rc[ri]).get("solution") else res.repaired).add(owner)

    inserts: dict[int, list[int]] = {}  # submission index after which to insert (-1: at the start)
    for ri in (i for i, c in enumerate(rc) if _nbg(c) and i not in found):
        prev = [found[p] for p in range(ri) if p in found]
        inserts.setdefault(max(prev) if prev else -1, []).append(ri)

    cells: list[NotebookNode] = []
    seen_ids: set[str] = set()

    def add(cell, nbg: dict | None, prefer: str | None = None) -> None:
        cid = prefer if prefer and _ID_OK.match(prefer) and prefer not in seen_ids else f"cell-{len(cells)}"
        seen_ids.add(cid)
        cells.append(_clean(cell, cid, nbg))

    def insert_after(si: int) -> None:
        for ri in inserts.get(si, []):
            what = "answer cell" if _nbg(rc[ri]).get("solution") else "cell"
            note(ri, f"{what} was deleted; re-inserted from the released notebook", missing=True)
            add(rc[ri], _nbg(rc[ri]), rc[ri].get("id"))

    insert_after(-1)
    for si, cell in enumerate(sc):
        if si in by_sub:
            ri = by_sub[si]
            want, have = _nbg(rc[ri]), _nbg(cell)
            if not have:
                note(ri, "nbgrader metadata was missing (Colab round trip?); re-attached")
            elif have != want:
                diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k) and k != "checksum")
                if diff:
                    note(ri, "nbgrader metadata was changed (" + ", ".join(
                        f"{k}: {have.get(k)!r} -> {want.get(k)!r}" for k in diff) + "); restored")
            add(cell, want, next(iter(sorted(_ids(rc[ri]))), None))
        else:
            if _nbg(cell):
                res.log.append(f"cell {si}: stray nbgrader metadata (grade_id {_nbg(cell).get('grade_id')!r}, "
                               "a copy or an unknown cell) removed")
            add(cell, None, cell.get("id"))
        insert_after(si)
    res.nb.cells = cells
    return res
