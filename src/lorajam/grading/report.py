"""Grading outputs: ``scores.csv``, nbgrader's ``grades.csv``, ``summary.png`` and the terminal summary."""

from __future__ import annotations

import csv
from pathlib import Path

SCORE_FIELDS = ["student", "assignment", "grade_id", "score", "max_score", "status"]


def score_rows(course: Path, assignment: str, manifest: dict) -> list[dict]:
    """One row per student per grade cell; scores from the gradebook (manual grades win), status from grading."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        order = [c.name for nb in gb.find_assignment(assignment).notebooks for c in nb.grade_cells]
        for student in sorted(manifest):
            try:
                sub = gb.find_submission(assignment, student)
            except Exception:  # noqa: BLE001 - MissingEntry: graded in an older gradebook
                continue
            grades = {g.name: g for nb in sub.notebooks for g in nb.grades}
            for gid in order:
                g = grades.get(gid)
                status = manifest[student].get("grades", {}).get(gid, {}).get("status", "missing")
                rows.append({"student": student, "assignment": assignment, "grade_id": gid,
                             "score": round(float(g.score), 4) if g is not None else 0.0,
                             "max_score": float(g.max_score) if g is not None else 0.0, "status": status})
    return rows


def write_scores(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SCORE_FIELDS)
        w.writeheader()
        w.writerows(rows)


def export_grades(course: Path) -> Path:
    """nbgrader's own CSV export (all assignments) to ``grades.csv``."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    out = course / "grades.csv"
    plugin = CsvExportPlugin()
    plugin.to = str(out)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        plugin.export(gb)
    return out


def totals(rows: list[dict]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for r in rows:
        s, m = out.get(r["student"], (0.0, 0.0))
        out[r["student"]] = (s + r["score"], m + r["max_score"])
    return out


def plot_summary(path: Path, rows: list[dict], assignment: str) -> None:
    """Histogram of total scores and mean score per question."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tot = totals(rows)
    gids = list(dict.fromkeys(r["grade_id"] for r in rows))
    means = [sum(r["score"] for r in rows if r["grade_id"] == g) / max(1, sum(r["grade_id"] == g for r in rows))
             for g in gids]
    maxes = [next(r["max_score"] for r in rows if r["grade_id"] == g) for g in gids]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    top = max((m for _, m in tot.values()), default=1.0)
    a.hist([s for s, _ in tot.values()], bins=min(20, max(5, int(top) + 1)), range=(0, top), color="#4c72b0")
    a.set(title=f"{assignment}: total score ({len(tot)} students)", xlabel="score", ylabel="students")
    b.bar(gids, maxes, color="#dddddd", label="max")
    b.bar(gids, means, color="#55a868", label="mean")
    b.set(title="mean score per question", ylabel="points")
    b.tick_params(axis="x", rotation=45)
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary_table(rows: list[dict]) -> str:
    """A plain-text table: one line per student, then the mean per question."""
    tot = totals(rows)
    lines = [f"{'student':<24} {'score':>12}  notes"]
    for student, (s, m) in sorted(tot.items()):
        notes: dict[str, int] = {}
        for r in rows:
            if r["student"] == student and r["status"] != "ok":
                notes[r["status"]] = notes.get(r["status"], 0) + 1
        lines.append(f"{student:<24} {s:>5g} / {m:<5g}  " + ", ".join(f"{n} {k}" for k, n in sorted(notes.items())))
    gids = list(dict.fromkeys(r["grade_id"] for r in rows))
    if gids:
        lines.append("")
        lines.append(f"{'question':<24} {'mean':>12}")
        for g in gids:
            sel = [r for r in rows if r["grade_id"] == g]
            lines.append(f"{g:<24} {sum(r['score'] for r in sel) / len(sel):>5.2f} / {sel[0]['max_score']:<5g}")
    return "\n".join(lines)
