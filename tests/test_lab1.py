"""Lab 1 (SFT with LoRA): built from its script, released fresh, and graded right.

Fast tests run the notebook's own exercise and test cells in this process, with a tokenizer and a tiny Llama built
here: the solution passes every visible and hidden test, each wrong-but-plausible implementation in
tests/fixtures/lab1/ fails exactly the test cells it should, rigged `__eq__` objects fail everything.
The slow test runs real `nbgrader autograde` with jam-tiny on five students: the solution (full marks), the
released blank notebook (0), two students that each carry several wrong implementations, and a rigged one.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from lorajam import course, models

ROOT = course.REPO_ROOT
SOLUTION = ROOT / "solutions" / "lab1_sft" / "lab1_sft.ipynb"
RELEASED = ROOT / "labs" / "lab1_sft.ipynb"
FIXTURES = ROOT / "tests" / "fixtures" / "lab1"
ASSIGNMENT = "lab1_sft"


def _load_builder():
    path = ROOT / "scripts" / "notebooks" / "build_lab1_sft.py"
    spec = importlib.util.spec_from_file_location("build_lab1_sft", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = _load_builder()

# exercise function -> the grade_id of its answer cell
ANSWER_CELLS = {
    "lora_param_count": "ex1_lora_param_count",
    "format_example": "ex2_format_example",
    "tokenize_with_labels": "ex3_tokenize_with_labels",
    "find_linear_module_names": "ex4_find_linear_module_names",
    "make_lora_config": "ex5_make_lora_config",
    "count_trainable_parameters": "ex6_count_trainable_parameters",
}
CONTRACT = {  # the signatures of issue 6, as written in the notebook
    "lora_param_count": "(d_in: int, d_out: int, r: int) -> int",
    "format_example": "(example: dict) -> tuple[str, str]",
    "tokenize_with_labels": "(example: dict, tokenizer, max_length: int) -> dict",
    "find_linear_module_names": "(model) -> list[str]",
    "make_lora_config": "(r: int, alpha: int, target_modules: list[str], dropout: float=0.05) -> LoraConfig",
    "count_trainable_parameters": "(model) -> tuple[int, int]",
}
CHEAP_TESTS = [gid for gid in builder.POINTS if not gid.startswith("ex7")]


def both(ex: str) -> set[str]:
    return {gid for gid in builder.POINTS if gid.startswith(ex + "_") and gid.endswith(("_visible", "_hidden"))}


def hidden_only(ex: str) -> set[str]:
    return {gid for gid in both(ex) if gid.endswith("_hidden")}


# fixture -> the test cells it must fail (every other cell of exercises 1-6 must pass)
EXPECTED_FAILURES: dict[str, set[str]] = {
    "product_not_sum": both("ex1"),
    "square_only": hidden_only("ex1"),
    "response_on_new_line": both("ex2"),
    "no_strip": hidden_only("ex2"),
    "prompt_not_masked": both("ex3"),
    "mask_off_by_one": both("ex3"),
    "mask_first_answer_token": both("ex3"),
    "no_eos": both("ex3"),
    "mask_by_pad_id": hidden_only("ex3"),
    "k_excluded": both("ex4"),
    "lm_head_included": both("ex4"),
    "names_ending_in_proj": hidden_only("ex4"),
    "k_included": both("ex5"),
    "alpha_over_r": both("ex5"),
    "dropout_ignored": hidden_only("ex5"),
    "frozen_counted": both("ex6"),
    "tied_counted_twice": hidden_only("ex6"),
    "rigged": set(CHEAP_TESTS),
}


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def by_grade_id(nb) -> dict[str, nbformat.NotebookNode]:
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells if nbgrader_meta(c).get("grade_id")}


def fixture_source(name: str) -> str:
    return (FIXTURES / f"{name}.py").read_text()


def defined_functions(source: str) -> list[str]:
    return [node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]


# ---------------------------------------------------------------- build and release
def test_solution_notebook_is_built_by_its_script(tmp_path):
    built = course.write_notebook(tmp_path / "lab1_sft.ipynb", builder.cells())
    assert built.read_text() == SOLUTION.read_text(), "run `python scripts/notebooks/build_lab1_sft.py`"


def test_released_notebook_is_fresh():
    assert builder.released_text() == RELEASED.read_text(), \
        "labs/lab1_sft.ipynb is stale: run `python scripts/notebooks/build_lab1_sft.py` (or `lorajam release`)"


def test_graded_cells_carry_the_points_table():
    for path in (SOLUTION, RELEASED):
        cells = by_grade_id(nbformat.read(path, as_version=4))
        graded = {gid: nbgrader_meta(c)["points"] for gid, c in cells.items() if nbgrader_meta(c).get("grade")}
        assert graded == builder.POINTS, path.name
        answers = {gid for gid, c in cells.items() if nbgrader_meta(c).get("solution")}
        assert answers == set(ANSWER_CELLS.values()), path.name
        assert all(nbgrader_meta(c)["locked"] for gid, c in cells.items() if gid in graded), "test cells are locked"
    assert sum(builder.POINTS.values()) == 18


@pytest.mark.parametrize("path", [SOLUTION, RELEASED], ids=["solution", "released"])
def test_exercise_signatures_are_the_contract(path):
    cells = by_grade_id(nbformat.read(path, as_version=4))
    for name, grade_id in ANSWER_CELLS.items():
        (fn,) = [n for n in ast.parse(cells[grade_id].source).body if isinstance(n, ast.FunctionDef)]
        args = fn.args
        defaults = [None] * (len(args.args) - len(args.defaults)) + list(args.defaults)
        params = [a.arg + (f": {ast.unparse(a.annotation)}" if a.annotation else "") +
                  (f"={ast.unparse(d)}" if d is not None else "") for a, d in zip(args.args, defaults, strict=True)]
        signature = f"({', '.join(params)}) -> {ast.unparse(fn.returns)}"
        assert (fn.name, signature) == (name, CONTRACT[name])


def test_released_notebook_hides_solutions_and_hidden_tests():
    released = nbformat.read(RELEASED, as_version=4)
    solution = by_grade_id(nbformat.read(SOLUTION, as_version=4))
    text = "\n".join(c.source for c in released.cells)
    assert "### BEGIN" not in text and "### END" not in text
    for grade_id, cell in by_grade_id(released).items():
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            assert "raise NotImplementedError()" in cell.source, grade_id
        if grade_id.endswith("_hidden"):
            hidden_body = solution[grade_id].source.split("### BEGIN HIDDEN TESTS")[1]
            assert "assert" in hidden_body and "assert" not in cell.source, grade_id
    for line in ("return r * (d_in + d_out)", "labels = ([IGNORE_INDEX] * len(prompt_ids)"):
        assert line in "\n".join(solution[g].source for g in ANSWER_CELLS.values()) and line not in text
    code_text = "\n".join(c.source for c in released.cells if c.cell_type == "code")
    assert not re.search(r"^\s*(import|from)\s+nbgrader", code_text, re.M), "students never import nbgrader"


def test_test_cells_never_end_in_a_bare_expression():
    """nbgrader reads a number shown by a test cell's last line as partial credit: tests end in a statement."""
    for grade_id in builder.POINTS:
        cell = by_grade_id(nbformat.read(SOLUTION, as_version=4))[grade_id]
        last = ast.parse(cell.source).body[-1]
        is_print = isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and \
            getattr(last.value.func, "id", "") == "print"
        assert not isinstance(last, ast.Expr) or is_print, grade_id


# ---------------------------------------------------------------- exercises in-process
def build_tokenizer(add_bos: bool):
    """A small byte-level BPE tokenizer trained on the instruction data (so ' Lima' is one word), with pad/bos/eos."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors, trainers
    from tokenizers import models as tok_models
    from transformers import PreTrainedTokenizerFast

    from lorajam.data import SPLITS, instruction_examples

    texts = [f"{ex['instruction']} {ex['response']}" for split in SPLITS for ex in instruction_examples(split)]
    tok = Tokenizer(tok_models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<pad>", "<s>", "</s>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts + ["### Instruction:\n\n### Response:"], trainer)
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


@pytest.fixture(scope="module")
def tiny_llama():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=700, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True))


@pytest.fixture(scope="module", params=[True, False], ids=["bos", "no-bos"])
def tokenizer(request):
    return build_tokenizer(add_bos=request.param)


def run_exercises(tokenizer, model, substitutes: dict[str, str] | None = None) -> dict[str, str | None]:
    """Execute imports, helpers, then each exercise's answer cell and its test cells, as the notebook does.

    `substitutes` maps an exercise function name to replacement source for its answer cell. Returns
    {test grade_id: None if it passed, else the error}.
    """
    nb = nbformat.read(SOLUTION, as_version=4)
    cells = by_grade_id(nb)
    imports = next(c for c in nb.cells if "imports" in c.metadata.get("tags", []))
    from types import SimpleNamespace

    from lorajam import runtime

    namespace: dict = {"__name__": "__main__", "tokenizer": tokenizer, "model": model, "MAX_LENGTH": 64,
                       "QUICK": False, "runtime": runtime, "rt": SimpleNamespace(device="cpu")}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(imports.source, "imports", "exec"), namespace)  # noqa: S102 - the notebook's own code
        exec(compile(cells["test_helpers"].source, "test_helpers", "exec"), namespace)  # noqa: S102
        results: dict[str, str | None] = {}
        for name, answer_id in ANSWER_CELLS.items():
            source = (substitutes or {}).get(name, cells[answer_id].source)
            exec(compile(source, answer_id, "exec"), namespace)  # noqa: S102
            ex = answer_id.split("_", 1)[0]
            for grade_id in (f"{answer_id}_visible", f"{answer_id}_hidden"):
                assert grade_id.startswith(ex) and grade_id in builder.POINTS
                try:
                    exec(compile(cells[grade_id].source, grade_id, "exec"), namespace)  # noqa: S102
                    results[grade_id] = None
                except Exception as err:  # noqa: BLE001 - any error is a failed test cell, as in nbgrader
                    results[grade_id] = f"{type(err).__name__}: {err}"
    return results


def test_solution_passes_every_visible_and_hidden_test(tokenizer, tiny_llama):
    results = run_exercises(tokenizer, tiny_llama)
    assert set(results) == set(CHEAP_TESTS)
    assert {gid: err for gid, err in results.items() if err} == {}


def test_fixtures_cover_every_listed_mistake():
    assert {p.stem for p in FIXTURES.glob("*.py")} == set(EXPECTED_FAILURES)
    for name in EXPECTED_FAILURES:
        assert set(defined_functions(fixture_source(name))) <= set(ANSWER_CELLS), name


@pytest.mark.parametrize("fixture", sorted(EXPECTED_FAILURES))
def test_wrong_implementation_fails_exactly_the_intended_cells(fixture, tokenizer, tiny_llama):
    source = fixture_source(fixture)
    results = run_exercises(tokenizer, tiny_llama, {name: source for name in defined_functions(source)})
    failed = {gid for gid, err in results.items() if err}
    assert failed == EXPECTED_FAILURES[fixture], {gid: results[gid] for gid in failed ^ EXPECTED_FAILURES[fixture]}


def test_visible_failures_teach(tokenizer, tiny_llama):
    """The messages name the mistake, so the visible tests give useful feedback."""
    expect = {
        "prompt_not_masked": ("ex3_tokenize_with_labels_visible", "mask every prompt token"),
        "mask_off_by_one": ("ex3_tokenize_with_labels_visible", "mask every prompt token"),
        "mask_first_answer_token": ("ex3_tokenize_with_labels_visible", "labels of the response"),
        "response_on_new_line": ("ex2_format_example_visible", "leading space"),
        "k_excluded": ("ex4_find_linear_module_names_visible", "missing ['k_proj']"),
        "frozen_counted": ("ex6_count_trainable_parameters_visible", "requires_grad=True"),
        "alpha_over_r": ("ex5_make_lora_config_visible", "peft divides by r"),
    }
    for fixture, (grade_id, words) in expect.items():
        source = fixture_source(fixture)
        results = run_exercises(tokenizer, tiny_llama, {name: source for name in defined_functions(source)})
        assert words in (results[grade_id] or ""), (fixture, results[grade_id])


# ---------------------------------------------------------------- nbgrader autograde with jam-tiny
needs_jam_tiny = pytest.mark.skipif(not (models.jam_tiny_path() / "config.json").exists(),
                                    reason="jam-tiny weights are not built yet")

WRONG_STUDENTS = {  # several wrong implementations per student, on different exercises
    "wrong_a": ["square_only", "no_strip", "prompt_not_masked", "k_excluded", "dropout_ignored", "frozen_counted"],
    "wrong_b": ["product_not_sum", "response_on_new_line", "mask_off_by_one", "names_ending_in_proj", "k_included",
                "tied_counted_twice"],
    "rigged": ["rigged"],
}
CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "lab1-test"
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
c.Execute.timeout = 300
c.Execute.iopub_timeout = 60  # a busy CI machine delays output messages; nbgrader's default is 4 s
"""


def _nbgrader(course_dir: Path, *args: str) -> float:
    # One torch thread per kernel: steady timings on a shared 2-core machine (as `lorajam grade` does per worker).
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "MPLBACKEND": "Agg",
           "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course_dir, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return time.perf_counter() - start


def _student_notebook(released, solution_cells, substitutes: dict[str, str], max_steps: int | None):
    nb = nbformat.from_dict(json.loads(json.dumps(released)))
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in ANSWER_CELLS.values():
            name = next(n for n, g in ANSWER_CELLS.items() if g == grade_id)
            cell.source = substitutes.get(name, solution_cells[grade_id].source)
        if max_steps is not None and "parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace("MAX_STEPS = None", f"MAX_STEPS = {max_steps}")
            assert f"MAX_STEPS = {max_steps}" in cell.source
    return nb


@pytest.fixture(scope="module")
def autograded(tmp_path_factory):
    """Autograde five students in a scratch course; returns ({student: {grade_id: score}}, {student: seconds})."""
    from nbgrader.api import Gradebook

    course_dir = tmp_path_factory.mktemp("lab1-course")
    (course_dir / "nbgrader_config.py").write_text(CONFIG.format(root=str(course_dir)))
    source = course_dir / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    shutil.copy(SOLUTION, source / f"{ASSIGNMENT}.ipynb")
    _nbgrader(course_dir, "db", "assignment", "add", ASSIGNMENT)
    _nbgrader(course_dir, "generate_assignment", ASSIGNMENT, "--force")
    released = nbformat.read(course_dir / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    solution_cells = by_grade_id(nbformat.read(SOLUTION, as_version=4))
    students = {"solution": _student_notebook(released, solution_cells, {}, None), "blank": released}
    for student, fixtures in WRONG_STUDENTS.items():
        substitutes = {}
        for fixture in fixtures:
            src = fixture_source(fixture)
            substitutes.update({name: src for name in defined_functions(src)})
        students[student] = _student_notebook(released, solution_cells, substitutes, max_steps=2)
    seconds = {}
    for student, nb in students.items():
        folder = course_dir / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
        _nbgrader(course_dir, "db", "student", "add", student)
        seconds[student] = _nbgrader(course_dir, "autograde", ASSIGNMENT, "--student", student, "--force")
    scores = {}
    with Gradebook(f"sqlite:///{course_dir}/gradebook.db") as gb:
        for student in students:
            notebook = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            scores[student] = {g.name: g.score for g in notebook.grades}
    print("autograde seconds per student:", {s: round(t, 1) for s, t in seconds.items()})
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "lab1-autograde-seconds.json").write_text(json.dumps(seconds, indent=2))
    return scores, seconds


@pytest.mark.slow
@needs_jam_tiny
def test_solution_autogrades_to_full_marks(autograded):
    scores, _ = autograded
    assert scores["solution"] == {gid: float(points) for gid, points in builder.POINTS.items()}


@pytest.mark.slow
@needs_jam_tiny
def test_blank_release_scores_zero_without_crashing_the_grader(autograded):
    scores, _ = autograded
    assert set(scores["blank"]) == set(builder.POINTS)
    assert all(score == 0 for score in scores["blank"].values()), scores["blank"]


@pytest.mark.slow
@needs_jam_tiny
@pytest.mark.parametrize("student", sorted(WRONG_STUDENTS))
def test_wrong_students_lose_exactly_the_intended_points(autograded, student):
    scores, _ = autograded
    lost = set().union(*(EXPECTED_FAILURES[f] for f in WRONG_STUDENTS[student]))
    expected = {gid: 0.0 if gid in lost else float(builder.POINTS[gid]) for gid in CHEAP_TESTS}
    assert {gid: scores[student][gid] for gid in CHEAP_TESTS} == expected
