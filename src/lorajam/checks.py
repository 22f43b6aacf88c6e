"""Self-check of quiz answers that never reveals the answer: `check("quiz1.q3", q3)`.

Keys live in `assets/checks/<quiz>.json` only as salted PBKDF2 hashes of the *normalised* answer, so neither the
released quiz nor the installed package holds a key in clear text. The explanation of each question is stored
encrypted with a key derived from the right answer: `check` can show it only once you have found that answer.
No nbgrader import, standard library only, so it works on Colab as well as locally.

How answers are normalised before hashing (the same rules appear in each quiz's instructions):

- ``choice``: one letter, case-insensitive; ``"B"``, ``" b "`` and ``"(b)"`` are all ``b``.
- ``int``: an exact whole number (``460800``, ``460_800`` or ``460800.0``; not the text ``"460800"``).
- ``sig``: a number compared at ``sig`` significant figures (3 by default) with one unit of slack in the last
  figure: for a key of 2.36, anything that rounds to 2.35, 2.36 or 2.37 is accepted (roughly 0.1-1 % from the
  key, never more than about 2 %). A hash cannot compare ranges, so the check hashes the rounded answer and its
  two neighbours and looks for the stored key.
- ``modules``: a list of module names; order and duplicates do not matter (``["v_proj", "q_proj"]``).
- ``lora_config``: a `peft.LoraConfig` (any object with its fields, not peft-specific) reduced to the tuple
  ``(r, lora_alpha, sorted target_modules, task_type)``; dropout, bias and other fields are not checked.

This is a learning aid, not a lock: four letters are quick to try. Grades come from the nbgrader hidden tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "KINDS",
    "InvalidAnswer",
    "Verdict",
    "check",
    "evaluate",
    "is_correct",
    "load_keys",
    "make_entry",
    "normalise",
    "numeric_match",
    "questions",
    "quiz_of",
]

KINDS = ("choice", "int", "sig", "modules", "lora_config")
ITERATIONS = 20_000  # PBKDF2 rounds: about 10 ms a check, slows guessing numeric keys by brute force
KEYS_DIR = Path(__file__).resolve().parent / "assets" / "checks"  # one `<quiz>.json` per quiz, e.g. quiz1.json
_VERIFY, _EXPLAIN, _MISTAKE = b"verify", b"explain", b"mistake"


class InvalidAnswer(ValueError):
    """An answer whose form cannot be checked (e.g. a word where a letter is expected); the message says why."""


@dataclass(frozen=True)
class Verdict:
    """What `evaluate` found: correct or not, the hint to show, and the explanation once correct."""

    question: str
    correct: bool
    message: str
    explanation: str | None = None


# ---------------------------------------------------------------- normalisation


def _is_unanswered(answer: Any) -> bool:
    return answer is None or answer is Ellipsis


def _number(answer: Any) -> float:
    """A plain float from an int, float or numpy scalar (text is refused: the grader wants a number)."""
    if isinstance(answer, bool):
        raise InvalidAnswer("a number is expected, not True/False")
    if isinstance(answer, str):
        raise InvalidAnswer(f"write the number without quotes, e.g. 1234, 1_234 or 1.5e6 (got the text {answer!r})")
    if isinstance(answer, numbers.Real) or hasattr(answer, "__float__"):
        value = float(answer)
        if math.isfinite(value):
            return value
        raise InvalidAnswer(f"{answer!r} is not a finite number")
    raise InvalidAnswer(f"a number is expected, got {type(answer).__name__}")


def _sig_parts(value: float, sig: int) -> tuple[int, int]:
    """`value` rounded to `sig` significant figures as (signed integer mantissa, exponent of its last digit)."""
    if value == 0:
        return 0, 0
    mantissa, exponent = f"{abs(value):.{sig - 1}e}".split("e")
    digits = int(mantissa.replace(".", ""))
    return (digits if value > 0 else -digits), int(exponent) - (sig - 1)


def _sig_text(digits: int, exponent: int) -> str:
    return "0" if digits == 0 else f"{digits}e{exponent}"


def _sig_neighbours(value: float, sig: int) -> list[str]:
    """Canonical forms of `value` at `sig` figures and of the numbers one unit of the last figure either side."""
    digits, exponent = _sig_parts(value, sig)
    if digits == 0:
        return ["0"]
    low, high = 10 ** (sig - 1), 10**sig
    out = [_sig_text(digits, exponent)]
    for step in (-1, 1):
        d, e = digits + step, exponent
        if abs(d) == high:  # 999 + 1 -> 100 one decade up
            d, e = d // 10, e + 1
        elif abs(d) == low - 1:  # 100 - 1 -> 999 one decade down
            d, e = d * 10 + (9 if d > 0 else -9), e - 1
        out.append(_sig_text(d, e))
    return out


def numeric_match(answer: float, key: float, sig: int = 3) -> bool:
    """The `sig` rule on plain numbers: `answer` rounds to the key's value at `sig` figures, or one unit off."""
    return _sig_text(*_sig_parts(float(key), sig)) in _sig_neighbours(float(answer), sig)


def _names(answer: Any, what: str) -> list[str]:
    if isinstance(answer, str):
        raise InvalidAnswer(f"{what} must be a list of module names such as ['name1', 'name2'], not one string")
    if not isinstance(answer, Iterable):
        raise InvalidAnswer(f"{what} must be a list of module names, got {type(answer).__name__}")
    names = list(answer)
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise InvalidAnswer(f"{what} must be a non-empty list of module names (strings)")
    return sorted({n.strip() for n in names})


def _config_fields(answer: Any) -> tuple[Any, Any, Any, Any]:
    if isinstance(answer, dict) or not (hasattr(answer, "r") and hasattr(answer, "lora_alpha")):
        raise InvalidAnswer(f"a peft LoraConfig(...) is expected, got {type(answer).__name__}")
    fields = ("r", "lora_alpha", "target_modules", "task_type")
    r, alpha, targets, task = (getattr(answer, name, None) for name in fields)
    return r, alpha, targets, task


def _config_canonical(answer: Any) -> str:
    r, alpha, targets, task = _config_fields(answer)
    if r is None or alpha is None or targets is None:
        raise InvalidAnswer("the LoraConfig needs r, lora_alpha and target_modules")
    rank = _number(r)
    if rank != int(rank) or rank < 1:
        raise InvalidAnswer(f"r must be a positive whole number, got {r!r}")
    alpha_value = _number(alpha)
    alpha_text = str(int(alpha_value)) if alpha_value == int(alpha_value) else repr(alpha_value)
    if isinstance(targets, str):  # peft treats a string as one regex over full names, or "all-linear"
        target_text = f"str:{targets.strip()}"
    else:
        target_text = ",".join(_names(targets, "target_modules"))
    task_text = str(getattr(task, "value", task)).strip().upper()
    return f"r={int(rank)};alpha={alpha_text};targets={target_text};task={task_text}"


def normalise(kind: str, answer: Any, *, choices: str = "abcd", sig: int = 3) -> str:
    """The canonical text of `answer` for a question of `kind` (what gets hashed).

    For `sig` this is the answer rounded to `sig` figures; `_candidates` adds the neighbours.
    Raises `InvalidAnswer` when the form is wrong, with a message saying what is expected.
    """
    if _is_unanswered(answer):
        raise InvalidAnswer("no answer yet: set the variable first")
    if kind == "choice":
        if not isinstance(answer, str):
            raise InvalidAnswer(f"answer with one letter in quotes, e.g. {choices[0]!r}")
        letter = answer.strip().strip("().").strip().lower()
        if len(letter) != 1 or letter not in choices:
            raise InvalidAnswer(f"answer with one letter out of {', '.join(choices)} (got {answer!r})")
        return letter
    if kind == "int":
        value = _number(answer)
        if value != int(value):
            raise InvalidAnswer(f"a whole number is expected, got {answer!r}")
        return str(int(value))
    if kind == "sig":
        return _sig_text(*_sig_parts(_number(answer), sig))
    if kind == "modules":
        return ",".join(_names(answer, "the answer"))
    if kind == "lora_config":
        return _config_canonical(answer)
    raise ValueError(f"unknown question kind {kind!r}; use one of {KINDS}")


def _candidates(entry: dict, answer: Any) -> list[str]:
    if entry["kind"] == "sig":
        return _sig_neighbours(_number(answer), entry.get("sig", 3))
    return [normalise(entry["kind"], answer, choices=entry.get("choices", "abcd"))]


# ---------------------------------------------------------------- hashing


def _master(salt: str, question: str, canonical: str) -> bytes:
    message = f"{question}|{canonical}".encode()
    return hashlib.pbkdf2_hmac("sha256", message, bytes.fromhex(salt), ITERATIONS)


def _tag(master: bytes, purpose: bytes) -> str:
    return hmac.new(master, purpose, hashlib.sha256).hexdigest()


def _keystream(master: bytes, length: int) -> bytes:
    key = hmac.new(master, _EXPLAIN, hashlib.sha256).digest()
    blocks = (hashlib.sha256(key + i.to_bytes(4, "big")).digest() for i in range(length // 32 + 1))
    return b"".join(blocks)[:length]


def _xor(master: bytes, data: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, _keystream(master, len(data)), strict=True))


def _encrypt(master: bytes, text: str) -> str:
    return base64.b64encode(_xor(master, text.encode())).decode()


def _decrypt(master: bytes, blob: str) -> str:
    return _xor(master, base64.b64decode(blob)).decode()


def make_entry(
    question: str,
    kind: str,
    answer: Any,
    *,
    salt: str,
    hint: str,
    explanation: str,
    choices: str = "abcd",
    sig: int = 3,
    unit: str = "",
    mistakes: Iterable[tuple[Any, str]] = (),
) -> dict:
    """The stored record of one question: hashes and encrypted explanation, never the answer itself.

    `mistakes` pairs a common wrong answer with a targeted hint shown when a learner gives exactly that answer
    (stored hashed too). Used by the quiz build scripts.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown question kind {kind!r}; use one of {KINDS}")
    canonical = normalise(kind, answer, choices=choices, sig=sig)
    master = _master(salt, question, canonical)
    entry: dict[str, Any] = {"kind": kind, "hint": hint}
    if kind == "choice":
        entry["choices"] = choices
    if kind == "sig":
        entry["sig"] = sig
    if unit:
        entry["unit"] = unit
    entry["hash"] = _tag(master, _VERIFY)
    entry["explanation"] = _encrypt(master, explanation)
    traps = []
    for wrong, wrong_hint in mistakes:
        wrong_canonical = normalise(kind, wrong, choices=choices, sig=sig)
        if kind == "sig" and numeric_match(_number(wrong), _number(answer), sig):
            raise ValueError(f"{question}: the listed mistake {wrong!r} would be accepted as correct")
        if wrong_canonical == canonical:
            raise ValueError(f"{question}: the listed mistake {wrong!r} equals the answer")
        traps.append({"hash": _tag(_master(salt, question, wrong_canonical), _MISTAKE), "hint": wrong_hint})
    if traps:
        entry["mistakes"] = traps
    return entry


# ---------------------------------------------------------------- checking


def quiz_of(question: str) -> str:
    """'quiz1.q3' -> 'quiz1' (the key file `quiz1.json`)."""
    quiz, _, number = question.partition(".")
    if not quiz or not number:
        raise KeyError(f"question ids look like 'quiz1.q3', got {question!r}")
    return quiz


@lru_cache(maxsize=8)
def load_keys(quiz: str, keys_dir: str | Path = KEYS_DIR) -> dict:
    """The key file of one quiz: `{"quiz": name, "salt": hex, "questions": {id: entry}}`."""
    path = Path(keys_dir) / f"{quiz}.json"
    if not path.exists():
        known = sorted(p.stem for p in Path(keys_dir).glob("*.json"))
        raise KeyError(f"no answer keys for {quiz!r} in {keys_dir}; quizzes with keys: {', '.join(known) or 'none'}")
    return json.loads(path.read_text())


def questions(quiz: str, keys_dir: str | Path = KEYS_DIR) -> list[str]:
    """Every question id of `quiz` the self-check knows, in order: ['quiz1.q1', 'quiz1.q2', ...]."""
    return sorted(load_keys(quiz, keys_dir)["questions"], key=lambda q: int(q.rsplit(".q", 1)[-1]))


def _entry(question: str, keys: dict) -> dict:
    entries = keys["questions"]
    if question not in entries:
        raise KeyError(f"unknown question {question!r}; known ids: {', '.join(entries)}")
    return entries[question]


def evaluate(question: str, answer: Any, keys_dir: str | Path = KEYS_DIR) -> Verdict:
    """Check `answer` for `question` without printing; see `check`."""
    keys = load_keys(quiz_of(question), keys_dir)
    entry = _entry(question, keys)
    try:
        candidates = _candidates(entry, answer)
    except InvalidAnswer as err:
        return Verdict(question, False, f"Can't check this answer yet: {err}.")
    masters = [_master(keys["salt"], question, canonical) for canonical in candidates]
    for master in masters:
        if hmac.compare_digest(_tag(master, _VERIFY), entry["hash"]):
            return Verdict(question, True, "Correct!", _decrypt(master, entry["explanation"]))
    hint = entry["hint"]
    tags = {_tag(master, _MISTAKE) for master in masters}
    for trap in entry.get("mistakes", []):
        if trap["hash"] in tags:
            hint = trap["hint"]
    return Verdict(question, False, f"Not yet. Hint: {hint}")


def is_correct(question: str, answer: Any, keys_dir: str | Path = KEYS_DIR) -> bool:
    """True when `answer` is right for `question` (same rules as `check`, nothing printed)."""
    return evaluate(question, answer, keys_dir).correct


def check(question: str, answer: Any, keys_dir: str | Path = KEYS_DIR) -> None:
    """Print `Correct!` with the explanation, or `Not yet` with a hint. Never prints the key.

    Example: `check("quiz1.q3", q3)`.
    """
    verdict = evaluate(question, answer, keys_dir)
    mark = "✅" if verdict.correct else "❌"
    print(f"{mark} {question}: {verdict.message}")
    if verdict.explanation:
        print(f"\nWhy: {verdict.explanation}")
