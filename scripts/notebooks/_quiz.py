"""Shared builder for the graded quizzes: one `Question` spec -> nbgrader cells + a self-check key entry.

Each question becomes four cells in the nbgrader source notebook (`solutions/<quiz>/<quiz>.ipynb`):

1. the prompt (markdown, locked);
2. the answer cell (`### BEGIN SOLUTION` region, cleared on release);
3. the self-check `check("quizN.qK", qK)` (prints Correct + explanation, or Not yet + a hint);
4. the autograder test (locked, graded): a visible format check, then hidden tests that print the explanation and
   compare plain Python values (`str()`, `int()`, `float()`) with the key, so a rigged `__eq__` cannot pass.

Numeric keys are computed by `key_code` (a `lorajam.budget` expression) when the notebook is built; the hand
derivation `hand` must agree, and the literal key goes into the hidden test (a student cannot monkeypatch it).
"""

from __future__ import annotations

import json
import secrets
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from lorajam import checks
from lorajam.course import code, header_cells, md, write_notebook

INTRO = """\
## How this quiz works

- Answer in the cell under each question: replace `raise NotImplementedError()` with your answer (`q1 = "b"`).
- Run the `check(...)` cell under it: **Correct** shows a one-paragraph explanation, **Not yet** gives a hint.
  The check compares a salted hash of your answer, so it never shows the answer; try again as often as you like.
- Answer forms: a **letter** in quotes (`q1 = "b"`; case does not matter); a **whole number** without quotes
  (`460_800` is fine); a **decimal** number without quotes, checked at 3 significant figures with one unit of slack
  in the last figure (for 2.36 the check accepts anything that rounds to 2.35, 2.36 or 2.37); **code**: a list of
  module names or a `LoraConfig(...)`.
- The locked cell after each check is the grader's test. Here it only checks the *form* of your answer; your
  instructor grades with hidden tests that give the same verdict as `check`.
- The quiz needs no GPU and loads no model: it runs in seconds on Colab or a laptop.
"""

SETUP = """\
from peft import LoraConfig  # noqa: F401 - for the code questions

from lorajam.checks import check
"""

OUTRO = "That is the quiz. Before you hand it in, run all cells (*Kernel → Restart & Run All*) and look for ❌."


@dataclass
class Question:
    """One quiz question. `answer_code` assigns `q<number>` (it is the solution region)."""

    number: int
    title: str
    prompt: str
    kind: str  # one of checks.KINDS
    answer_code: str
    explanation: str
    hint: str
    choices: dict[str, str] = field(default_factory=dict)  # letter -> option text (kind "choice")
    key_code: str = ""  # numeric kinds: expression giving the key (uses lorajam.budget)
    hand: str = ""  # numeric kinds: the same number as plain arithmetic, cross-checked at build time
    mistakes: list[tuple[Any, str]] = field(default_factory=list)  # common wrong answer -> targeted hint
    wrong: list[Any] = field(default_factory=list)  # more wrong answers the tests must see rejected
    unit: str = ""
    sig: int = 3
    points: int = 1
    before: str = ""  # optional code cell shown before the answer cell (e.g. a printed module list)
    answer_help: str = ""  # the comment line above the student's answer

    @property
    def var(self) -> str:
        return f"q{self.number}"

    def qid(self, quiz: str) -> str:
        return f"{quiz}.{self.var}"


def _nbgrader(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False, points=None):
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def answer_value(q: Question, namespace: dict | None = None) -> Any:
    """Run the solution code and return the value it assigns to `q<number>`."""
    ns: dict[str, Any] = dict(namespace or {})
    if q.kind == "lora_config":
        from peft import LoraConfig

        ns.setdefault("LoraConfig", LoraConfig)  # imported by the quiz's setup cell
    exec(q.answer_code, ns)  # noqa: S102 - our own build-time source
    return ns[q.var]


def key_value(q: Question) -> Any:
    """The key: from `key_code` for numeric kinds (checked against `hand`), else the solution's answer."""
    if q.kind in ("int", "sig"):
        from lorajam import budget  # noqa: F401 - used by key_code

        key = eval(q.key_code, {"budget": budget})  # noqa: S307 - our own build-time source
        hand = eval(q.hand, {})  # noqa: S307
        same = int(key) == int(hand) if q.kind == "int" else checks.numeric_match(hand, key, q.sig)
        if not same:
            raise AssertionError(f"{q.var}: budget says {key}, the hand derivation says {hand}")
        return key
    return answer_value(q)


def sig_interval(key: float, sig: int) -> tuple[float, float]:
    """The closed range of numbers the `sig` rule accepts for `key` (for a plain hidden test).

    The rule accepts answers that round to the key's neighbours or between them, so the range runs from half a
    unit below the lower neighbour to half a unit above the upper one.
    """

    def shifted(text: str, half_units: float) -> float:  # decimal arithmetic via text: no 79.85000000000001
        digits, exponent = (int(x) for x in text.split("e"))
        return float(f"{digits + half_units}e{exponent}")

    _, low, high = checks._sig_neighbours(float(key), sig)  # noqa: SLF001 - (rounded key, one below, one above)
    return shifted(low, -0.5), shifted(high, 0.5)


def _wrap(text: str, width: int = 100) -> str:
    return textwrap.fill(" ".join(text.split()), width, break_on_hyphens=False, break_long_words=False)


def prompt_markdown(q: Question) -> str:
    points = f"{q.points} point" + ("s" if q.points != 1 else "")
    body = f"### Q{q.number} · {q.title} ({points})\n\n{q.prompt.strip()}"
    if q.choices:
        body += "\n\n" + "\n".join(f"- **{letter})** {text}" for letter, text in q.choices.items())
    return body


def _answer_help(q: Question) -> str:
    if q.answer_help:
        return q.answer_help
    if q.kind == "choice":
        return f'# Your answer: one letter in quotes, e.g. {q.var} = "{next(iter(q.choices))}"'
    if q.kind == "int":
        return f"# Your answer: a whole number without quotes ({q.unit}), e.g. {q.var} = 1_234"
    if q.kind == "sig":
        return f"# Your answer: a number without quotes ({q.unit}); 3 significant figures are enough"
    if q.kind == "modules":
        return f'# Your answer: a list of module names, e.g. {q.var} = ["name1", "name2"]'
    return f"# Your answer: {q.var} = LoraConfig(...)"


def _visible_test(q: Question) -> str:
    v = q.var
    if q.kind == "choice":
        letters = ", ".join(f'"{c}"' for c in q.choices)
        return (
            f'letter = str({v}).strip().strip("().").strip().lower()\n'
            f"assert letter in ({letters}), \"answer with one letter in quotes, e.g. {v} = 'a'\""
        )
    if q.kind in ("int", "sig"):
        lines = [
            "import numbers",
            "",
            f'assert isinstance({v}, numbers.Real) and not isinstance({v}, bool), "write a number without quotes"',
        ]
        if q.kind == "int":
            lines.append(f'assert float({v}) == int({v}), "a whole number is expected"')
        return "\n".join(lines)
    if q.kind == "modules":
        return (
            f"assert isinstance({v}, (list, tuple, set)), \"a list of module names, e.g. ['name1', 'name2']\"\n"
            f'assert all(isinstance(n, str) for n in {v}), "each module name is a string in quotes"'
        )
    return f'import peft\n\nassert isinstance({v}, peft.LoraConfig), "{v} must be a LoraConfig(...)"'


def _hidden_test(q: Question, key: Any) -> str:
    v = q.var
    explanation = _wrap(f"Q{q.number}: {q.explanation}", 98).replace('"""', "'''")
    lines = [f'print("""{explanation}""")']
    if q.kind == "choice":
        lines.append(f'assert str({v}).strip().strip("().").strip().lower() == "{key}"')
    elif q.kind == "int":
        lines += [f"# key = {q.key_code}", f"#     = {q.hand} = {int(key)}"]
        lines.append(f"assert int({v}) == {int(key)} and float({v}) == {int(key)}")
    elif q.kind == "sig":
        lo, hi = sig_interval(key, q.sig)
        lines += [f"# key = {q.key_code}", f"#     = {q.hand} = {key!r}"]
        lines.append(f"# accepted: {q.sig} significant figures, one unit of slack in the last figure")
        lines.append(f"assert {lo!r} <= float({v}) <= {hi!r}")
    elif q.kind == "modules":
        lines.append(f"assert sorted({{str(n).strip() for n in {v}}}) == {sorted(key)!r}")
    else:
        targets = sorted(str(t) for t in key.target_modules)
        task = str(getattr(key.task_type, "value", key.task_type))
        lines += [
            f"assert float({v}.r) == {int(key.r)}",
            f"assert float({v}.lora_alpha) == {float(key.lora_alpha)!r}",
            f"assert sorted(str(t).strip() for t in {v}.target_modules) == {targets!r}",
            f'assert str(getattr({v}.task_type, "value", {v}.task_type)).strip() == "{task}"',
        ]
    return "\n".join(lines)


def question_cells(quiz: str, q: Question, key: Any) -> list[nbformat.NotebookNode]:
    """The four (or five, with `before`) cells of one question."""
    v = q.var
    cells = [md(prompt_markdown(q), **_nbgrader(f"{v}-prompt", locked=True))]
    if q.before:
        cells.append(code(q.before, **_nbgrader(f"{v}-setup", locked=True)))
    cells += [
        code(
            f"{_answer_help(q)}\n{q.var} = None\n### BEGIN SOLUTION\n{q.answer_code.strip()}\n### END SOLUTION",
            **_nbgrader(f"{v}-answer", solution=True),
        ),
        code(f'check("{q.qid(quiz)}", {v})'),
        code(
            f"# Autograder test for Q{q.number}: the visible line checks the form of your answer;\n"
            "# the grader adds hidden tests (the same verdict as check() above).\n"
            f"{_visible_test(q)}\n### BEGIN HIDDEN TESTS\n{_hidden_test(q, key)}\n### END HIDDEN TESTS",
            **_nbgrader(v, grade=True, locked=True, points=q.points),
        ),
    ]
    return cells


def wrong_answers(q: Question) -> list[Any]:
    """Every wrong answer the tests try: all other letters for a choice, plus the listed mistakes."""
    out: list[Any] = []
    if q.kind == "choice":
        key = answer_value(q)
        out += [letter for letter in q.choices if letter != key]
    return out + [m for m, _ in q.mistakes] + list(q.wrong)


def key_entries(quiz: str, qs: list[Question], salt: str) -> dict:
    """The key file content of one quiz (hashes and encrypted explanations only)."""
    entries = {}
    for q in qs:
        entries[q.qid(quiz)] = checks.make_entry(
            q.qid(quiz),
            q.kind,
            key_value(q),
            salt=salt,
            hint=q.hint,
            explanation=" ".join(q.explanation.split()),
            choices="".join(q.choices) or "abcd",
            sig=q.sig,
            unit=q.unit,
            mistakes=q.mistakes,
        )
    return {"quiz": quiz, "format": 1, "salt": salt, "questions": entries}


def write_keys(quiz: str, qs: list[Question], keys_dir: Path = checks.KEYS_DIR) -> Path:
    """Write `<keys_dir>/<quiz>.json`, keeping the existing salt so rebuilding changes nothing."""
    path = keys_dir / f"{quiz}.json"
    salt = json.loads(path.read_text())["salt"] if path.exists() else secrets.token_hex(16)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(key_entries(quiz, qs, salt), indent=1, ensure_ascii=False) + "\n")
    checks.load_keys.cache_clear()
    return path


def check_spec(quiz: str, qs: list[Question]) -> None:
    """Build-time sanity: numbering 1..n, known kinds, choice keys among the choices, numeric keys from budget."""
    numbers = [q.number for q in qs]
    if numbers != list(range(1, len(qs) + 1)):
        raise ValueError(f"{quiz}: questions must be numbered 1..n, got {numbers}")
    for q in qs:
        if q.kind not in checks.KINDS:
            raise ValueError(f"{q.var}: unknown kind {q.kind}")
        if q.kind == "choice" and answer_value(q) not in q.choices:
            raise ValueError(f"{q.var}: the answer is not one of the choices")
        if q.kind in ("int", "sig") and not (q.key_code and q.hand):
            raise ValueError(f"{q.var}: numeric questions need key_code (budget) and hand")


def build_quiz(
    quiz: str,
    relpath: str,
    path: Path,
    title: str,
    objectives: list[str],
    parameters: str,
    questions: list[Question],
    keys_dir: Path | None = None,
) -> Path:
    """Write a quiz's nbgrader source notebook and its salted self-check keys."""
    check_spec(quiz, questions)
    cells = header_cells(relpath, title, objectives, parameters)
    cells += [md(INTRO), code(SETUP)]
    for q in questions:
        cells += question_cells(quiz, q, key_value(q))
    cells.append(md(OUTRO))
    write_keys(quiz, questions, **({"keys_dir": keys_dir} if keys_dir else {}))
    return write_notebook(path, cells)
