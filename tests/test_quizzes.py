"""The two graded quizzes: keys right and self-consistent, hidden tests robust, releases current, nbgrader grades.

Fast tests work on the question specs of `scripts/notebooks/build_quiz*.py` and the committed notebooks; tests
marked `slow` rebuild/re-release into a temporary folder, execute the quizzes, and run nbgrader autograde.
"""

from __future__ import annotations

import copy
import html
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from lorajam import budget, checks, course

ROOT = course.REPO_ROOT
SCRIPTS = ROOT / "scripts" / "notebooks"
sys.path.insert(0, str(SCRIPTS))

import _quiz  # noqa: E402
import release_quizzes  # noqa: E402

from lorajam.grading import release  # noqa: E402


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"build_{name}", SCRIPTS / f"build_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILDS = {name: _load(name) for name in release_quizzes.QUIZZES}
CASES = [(name, q) for name, build in BUILDS.items() for q in build.QUESTIONS]
CASE_IDS = [f"{BUILDS[name].QUIZ}.{q.var}" for name, q in CASES]


def solution_path(name: str) -> Path:
    return ROOT / "solutions" / name / f"{name}.ipynb"


def released_path(name: str) -> Path:
    return ROOT / "quizzes" / f"{name}.ipynb"


def nbgrader_cell(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def graded_cells(path: Path) -> dict[str, nbformat.NotebookNode]:
    cells = nbformat.read(path, as_version=4).cells
    return {nbgrader_cell(c)["grade_id"]: c for c in cells if nbgrader_cell(c).get("grade")}


# ------------------------------------------------------------------ content


@pytest.mark.parametrize("name", list(BUILDS))
def test_each_quiz_has_ten_questions_in_every_form(name):
    qs = BUILDS[name].QUESTIONS
    kinds = {q.kind for q in qs}
    assert len(qs) >= 10
    assert "choice" in kinds and kinds & {"int", "sig"} and kinds & {"modules", "lora_config"}
    assert all(len(q.explanation.split()) >= 25 for q in qs), "one explanatory paragraph per question"
    _quiz.check_spec(BUILDS[name].QUIZ, qs)


@pytest.mark.parametrize(("name", "q"), CASES, ids=CASE_IDS)
def test_self_check_accepts_the_solution_and_rejects_each_wrong_answer(name, q):
    qid = q.qid(BUILDS[name].QUIZ)
    verdict = checks.evaluate(qid, _quiz.answer_value(q))
    assert verdict.correct, "the solution's own answer is refused"
    assert verdict.explanation == " ".join(q.explanation.split()), "the explanation unlocks with the answer"
    assert checks.is_correct(qid, _quiz.key_value(q))
    wrong = _quiz.wrong_answers(q)
    assert wrong, "every question lists wrong answers to test against"
    for answer in wrong:
        verdict = checks.evaluate(qid, answer)
        assert not verdict.correct and verdict.explanation is None, f"wrong answer {answer!r} accepted"


@pytest.mark.parametrize(("name", "q"), [c for c in CASES if c[1].kind in ("int", "sig")],
                         ids=[i for i, c in zip(CASE_IDS, CASES, strict=True) if c[1].kind in ("int", "sig")])
def test_numeric_keys_come_from_budget_and_match_the_hand_derivation(name, q):
    assert "budget." in q.key_code and "budget." in q.answer_code
    key = eval(q.key_code, {"budget": budget})  # noqa: S307
    hand = eval(q.hand, {})  # noqa: S307
    if q.kind == "int":
        assert int(key) == key == hand
        shown = f"{int(key):,}"
    else:
        assert checks.numeric_match(hand, key, q.sig) and abs(hand - key) <= 1e-9 * abs(key)
        shown = f"{key:#.{q.sig}g}".rstrip(".")
        lo, hi = _quiz.sig_interval(key, q.sig)  # the hidden test's range agrees with the self-check's rule
        eps = (hi - lo) * 1e-6
        assert checks.numeric_match(lo + eps, key, q.sig) and checks.numeric_match(hi - eps, key, q.sig)
        assert not checks.numeric_match(lo - eps, key, q.sig) and not checks.numeric_match(hi + eps, key, q.sig)
    assert shown in q.explanation, f"the explanation should show the key {shown} derived by hand"


def test_budget_keys_agree_with_peft_and_the_printed_layer():
    """Q7 of quiz 1 claims peft counts the same parameters; Q8/Q10 pick names from the printed layer."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    namespace: dict = {}
    exec(BUILDS["quiz1_lora"].LAYER, namespace)  # noqa: S102 - the quiz's own cell
    layer = namespace["layer"]
    linear = {n.rsplit(".", 1)[-1]: m for n, m in layer.named_modules() if isinstance(m, torch.nn.Linear)}
    smol = budget.preset("SmolLM2-135M")
    assert {n: (m.in_features, m.out_features) for n, m in linear.items()} == budget.module_shapes(smol)
    q8, q10 = (next(q for q in BUILDS["quiz1_lora"].QUESTIONS if q.number == n) for n in (8, 10))
    assert set(_quiz.answer_value(q8)) <= set(linear)
    assert set(_quiz.answer_value(q10).target_modules) <= set(linear)

    config = namespace["config"]
    config.num_hidden_layers, config.vocab_size = 1, 64
    model = LlamaForCausalLM(config)
    peft_model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    trainable, _ = peft_model.get_nb_trainable_parameters()
    assert smol.n_layers * trainable == budget.lora_params(smol, 8, ["q_proj", "v_proj"]) == 460_800


def test_peft_refuses_target_names_of_another_architecture():
    """Quiz 1 Q9: BERT's names on a Llama-style model raise a ValueError (checked on the installed peft)."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    tiny = LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=64, num_attention_heads=4,
                                        num_key_value_heads=2, num_hidden_layers=1, vocab_size=64))
    with pytest.raises(ValueError, match="not found"):
        get_peft_model(tiny, LoraConfig(target_modules=["query", "value"], task_type="CAUSAL_LM"))


# ------------------------------------------------------------------ hidden tests


class RiggedStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class RiggedInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class RiggedFloat(float):
    def __eq__(self, other):
        return True

    __le__ = __ge__ = __lt__ = __gt__ = __eq__
    __hash__ = float.__hash__


class RiggedList(list):
    def __eq__(self, other):
        return True


class Liar:
    """Whatever you compare it with, it says equal; str() gives a rigged string."""

    def __eq__(self, other):
        return True

    def __str__(self):
        return RiggedStr("zzz")


def rigged_answers(q: _quiz.Question) -> list:
    if q.kind == "choice":
        return [RiggedStr("z"), RiggedStr(next(c for c in q.choices if c != _quiz.answer_value(q)))]
    if q.kind in ("int", "sig"):
        return [RiggedInt(1), RiggedFloat(0.5)]
    if q.kind == "modules":
        return [RiggedList(["nothing"]), [Liar()]]
    key = _quiz.answer_value(q)  # right r and alpha, rigged targets or task type
    bad_task, bad_targets = copy.deepcopy(key), copy.deepcopy(key)
    bad_task.task_type = Liar()
    bad_targets.target_modules = [Liar() for _ in key.target_modules]
    return [bad_task, bad_targets]


def run_test_cell(source: str, var: str, answer) -> None:
    exec(source, {var: answer})  # noqa: S102 - the quiz's own test cell


@pytest.mark.parametrize(("name", "q"), CASES, ids=CASE_IDS)
def test_hidden_tests_pass_the_solution_and_fail_wrong_and_rigged_answers(name, q, capsys):
    cell = graded_cells(solution_path(name))[q.var]
    assert cell.metadata.nbgrader["points"] == q.points and cell.metadata.nbgrader["locked"]
    assert "### BEGIN HIDDEN TESTS" in cell.source
    run_test_cell(cell.source, q.var, _quiz.answer_value(q))
    assert q.explanation.split()[0] in capsys.readouterr().out, "the hidden test prints the explanation"
    for answer in _quiz.wrong_answers(q) + rigged_answers(q):
        with pytest.raises((AssertionError, TypeError, ValueError)):
            run_test_cell(cell.source, q.var, answer)


# ------------------------------------------------------------------ what students and the package hold


@pytest.mark.parametrize("name", list(BUILDS))
def test_key_file_holds_no_answer_in_clear_text(name):
    build = BUILDS[name]
    path = checks.KEYS_DIR / f"{build.QUIZ}.json"
    text = path.read_text()
    entries = json.loads(text)["questions"]
    assert sorted(entries) == sorted(q.qid(build.QUIZ) for q in build.QUESTIONS)
    for q in build.QUESTIONS:
        entry = entries[q.qid(build.QUIZ)]
        clear = [entry["hint"], *[m["hint"] for m in entry.get("mistakes", [])]]
        key = _quiz.key_value(q)
        assert set(entry) <= {"kind", "hint", "choices", "sig", "unit", "hash", "explanation", "mistakes"}
        assert " ".join(q.explanation.split())[:40] not in text, "explanations are stored encrypted"
        if q.kind == "choice":
            assert all(entry[f] != key for f in entry if f != "choices")
            assert not any(re.search(rf"\b(answer|option) (is )?\(?{key}\)?\b", h, re.I) for h in clear)
        elif q.kind in ("int", "sig"):
            renderings = {f"{key:,}", f"{key:.{q.sig}g}", checks.normalise(q.kind, key, sig=q.sig)}
            if q.kind == "int":
                renderings.add(str(int(key)))
            for shown in renderings:
                assert not any(re.search(rf"(?<![\d.]){re.escape(shown)}(?![\d])", h) for h in clear), shown
                assert f'"{shown}"' not in text
        else:
            assert checks.normalise(q.kind, key) not in text
        if q.kind == "lora_config":
            assert not any(re.search(rf"lora_alpha\s*=\s*{int(key.lora_alpha)}\b", h) for h in clear)


@pytest.mark.parametrize("name", list(BUILDS))
def test_released_quiz_hides_solutions_keys_and_explanations(name):
    build = BUILDS[name]
    text = released_path(name).read_text()
    released = nbformat.reads(text, as_version=4)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text and "budget" not in text
    for q in build.QUESTIONS:
        assert " ".join(q.explanation.split())[:40] not in " ".join(text.split())
        solution_lines = [ln for ln in q.answer_code.splitlines() if ln.strip() and "import" not in ln]
        assert not any(ln.strip() in text for ln in solution_lines), q.var
    graded = {nbgrader_cell(c)["grade_id"] for c in released.cells if nbgrader_cell(c).get("grade")}
    assert graded == {q.var for q in build.QUESTIONS}
    assert course.colab_url(f"quizzes/{name}.ipynb", course.settings()) in text
    assert "import nbgrader" not in text and "from nbgrader" not in text


# ------------------------------------------------------------------ slow: rebuild, execute, autograde


def _parameters() -> dict:
    """The harness's quick parameters; MODEL 'auto' while jam-tiny's weights are not built (a quiz loads no model)."""
    jam_tiny = Path(sys.modules["lorajam"].__file__).parent / "assets" / "jam-tiny" / "config.json"
    return course.QUICK_PARAMETERS if jam_tiny.exists() else {"QUICK": True, "MODEL": "auto"}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BUILDS))
def test_solution_and_release_are_up_to_date(name, tmp_path):
    build = BUILDS[name]
    keys = tmp_path / "keys"
    keys.mkdir()
    shutil.copy(checks.KEYS_DIR / f"{build.QUIZ}.json", keys)  # same salt: a rebuild must change nothing
    source = build.build(tmp_path / "solutions" / name / f"{name}.ipynb", keys_dir=keys)
    assert source.read_text() == solution_path(name).read_text(), f"rerun scripts/notebooks/build_{name}.py"
    assert json.loads((keys / f"{build.QUIZ}.json").read_text()) == checks.load_keys(build.QUIZ)
    shutil.copytree(solution_path(name).parent, tmp_path / "committed" / name)
    fresh = release.generate(tmp_path / "committed", [name])[name]  # what `lorajam release` writes
    assert fresh == released_path(name).read_text(), "rerun `lorajam release` (or release_quizzes.py)"
    checks.load_keys.cache_clear()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BUILDS))
def test_solution_executes_and_every_self_check_says_correct(name):
    nb, seconds = course.execute_notebook(solution_path(name), _parameters(), timeout=120)
    out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    qs = BUILDS[name].QUESTIONS
    assert out.count("✅") == len(qs) and "❌" not in out
    print(f"{name}: {seconds:.1f} s")


def _autograde(name: str, tmp_path: Path, submissions: dict[str, Path]) -> dict[str, dict]:
    """nbgrader generate_assignment, autograde and feedback in a fresh course dir.

    Returns `{student: {grade_id: score}}`, plus `max` and `feedback` (`{student: feedback HTML}`).
    """
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    from lorajam.grading.config import ensure_tools_on_path

    ensure_tools_on_path()  # nbgrader's gradebook runs `alembic` from PATH
    root = tmp_path / "course"
    shutil.copytree(ROOT / "solutions" / name, root / "source" / name)
    config = Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    api = NbGraderAPI(config=config)
    assert api.generate_assignment(name, force=True)["success"]
    for student, notebook in submissions.items():
        dest = root / "submitted" / student / name
        dest.mkdir(parents=True)
        shutil.copy(notebook, dest / f"{name}.ipynb")
        result = api.autograde(name, student, force=True, create=True)
        assert result["success"], result["log"]
        assert api.generate_feedback(name, student)["success"]
    scores: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student in submissions:
            notebook = gb.find_submission_notebook(name, name, student)
            scores[student] = {g.name: g.score for g in notebook.grades}
        max_score = gb.find_notebook(name, name).max_score
    scores["max"] = {"total": max_score}
    scores["feedback"] = {s: (root / "feedback" / s / name / f"{name}.html").read_text() for s in submissions}
    return scores


def wrong_code(q: _quiz.Question) -> str:
    """Source for a well-formed but wrong answer: passes the visible test, fails the hidden one."""
    key = _quiz.key_value(q)
    if q.kind == "choice":
        return f'{q.var} = "{next(c for c in q.choices if c != key)}"'
    if q.kind in ("int", "sig"):
        return f"{q.var} = {int(key) + 7 if q.kind == 'int' else key * 1.1!r}"
    if q.kind == "modules":
        return f'{q.var} = ["act_fn"]'
    return f'{q.var} = LoraConfig(r=1, lora_alpha=1, target_modules=["q_proj"], task_type="CAUSAL_LM")'


def partial_submission(name: str, path: Path) -> tuple[Path, dict[str, float]]:
    """The released quiz with odd questions answered right and even ones wrong; returns it and the expected scores."""
    nb = nbformat.read(released_path(name), as_version=4)
    expected = {}
    for q in BUILDS[name].QUESTIONS:
        cell = next(c for c in nb.cells if nbgrader_cell(c).get("grade_id") == f"{q.var}-answer")
        right = q.number % 2 == 1
        answer = q.answer_code if right else wrong_code(q)
        cell.source = cell.source.replace("raise NotImplementedError()", answer)
        expected[q.var] = float(q.points) if right else 0.0
    nbformat.write(nb, path)
    return path, expected


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BUILDS))
def test_autograde_gives_full_marks_to_the_solution_and_zero_to_the_blank(name, tmp_path):
    qs = BUILDS[name].QUESTIONS
    partial, expected = partial_submission(name, tmp_path / "partial.ipynb")
    submissions = {"solution": solution_path(name), "blank": released_path(name), "partial": partial}
    scores = _autograde(name, tmp_path, submissions)
    assert scores["max"]["total"] == sum(q.points for q in qs)
    assert scores["solution"] == {q.var: float(q.points) for q in qs}
    assert scores["blank"] == {q.var: 0.0 for q in qs}
    assert scores["partial"] == expected, "hidden tests restored by the grader tell right from wrong"
    for q in qs:  # the feedback shows each question's explanation, even to a blank submission
        words = " ".join(q.explanation.split()[:6])
        feedback = scores["feedback"]["blank"]
        assert html.escape(words, quote=True) in feedback or words in feedback, q.var
