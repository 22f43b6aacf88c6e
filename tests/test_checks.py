"""lorajam.checks: normalisation, the significant-figure tolerance, salted hashes that never reveal the key."""

import json
import random
import subprocess
import sys

import pytest
from peft import LoraConfig, TaskType

from lorajam import checks
from lorajam.checks import InvalidAnswer, normalise, numeric_match

SALT = "00112233445566778899aabbccddeeff"


def write_quiz(tmp_path, entries: dict, quiz: str = "demo") -> None:
    (tmp_path / f"{quiz}.json").write_text(json.dumps({"quiz": quiz, "salt": SALT, "questions": entries}))
    checks.load_keys.cache_clear()


@pytest.fixture
def demo(tmp_path):
    """A tiny quiz with one question of each kind, written with the same `make_entry` the build scripts use."""
    entries = {
        "demo.q1": checks.make_entry(
            "demo.q1", "choice", "c", salt=SALT, hint="think about α/r", explanation="Because α/r halves.",
            mistakes=[("a", "a doubles it")],
        ),
        "demo.q2": checks.make_entry("demo.q2", "int", 460800, salt=SALT, hint="r(in+out)", explanation="30 x 15,360"),
        "demo.q3": checks.make_entry(
            "demo.q3", "sig", 107.814649856, salt=SALT, hint="16 bytes", explanation="108 GB",
            mistakes=[(26.95, "weights only")],
        ),
        "demo.q4": checks.make_entry(
            "demo.q4", "modules", ["up_proj", "gate_proj", "down_proj"], salt=SALT, hint="Linear", explanation="MLP"
        ),
        "demo.q5": checks.make_entry(
            "demo.q5", "lora_config",
            LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
            salt=SALT, hint="alpha = 2r", explanation="scale 2",
        ),
    }
    write_quiz(tmp_path, entries)
    yield tmp_path
    checks.load_keys.cache_clear()


def test_letters_are_case_and_punctuation_insensitive():
    assert {normalise("choice", a) for a in ("b", "B", " b ", "(b)", "b.", "(B)")} == {"b"}
    for bad in ("e", "bc", "", 2, ["b"]):
        with pytest.raises(InvalidAnswer):
            normalise("choice", bad)


def test_numbers_must_be_numbers():
    assert normalise("int", 460_800) == normalise("int", 460800.0) == "460800"
    for bad in ("460800", True, 460800.5, float("nan"), [1]):
        with pytest.raises(InvalidAnswer):
            normalise("int", bad)
    with pytest.raises(InvalidAnswer, match="no answer yet"):
        normalise("sig", None)


def test_sig_rule_matches_the_documented_example():
    # "for 2.36 the check accepts anything that rounds to 2.35, 2.36 or 2.37"
    for ok in (2.345, 2.35, 2.36, 2.3649, 2.37, 2.3749):
        assert numeric_match(ok, 2.36), ok
    for bad in (2.344, 2.3751, 2.38, 23.6, 0.236):
        assert not numeric_match(bad, 2.36), bad


def test_sig_rule_across_a_decade_and_symmetric():
    assert numeric_match(0.999, 1.0) and numeric_match(1.0, 0.999) and numeric_match(1.01, 1.0)
    assert not numeric_match(0.998, 1.0) and not numeric_match(1.02, 1.0)
    assert numeric_match(1000, 999) and numeric_match(999, 1000) and not numeric_match(1010, 999)
    rng = random.Random(0)
    for _ in range(2000):
        key = rng.uniform(1.1, 9.8) * 10 ** rng.randint(-3, 9)  # away from powers of ten, where the grid changes
        answer = key * (1 + rng.uniform(-0.04, 0.04))
        assert numeric_match(answer, key) == numeric_match(key, answer)
        if abs(answer - key) / key < 0.001:  # within one unit of the 3rd figure: always accepted
            assert numeric_match(answer, key)
        if abs(answer - key) / key > 0.0201:  # beyond two units at the coarsest place: never accepted
            assert not numeric_match(answer, key)


def test_lora_config_is_reduced_to_its_properties():
    a = LoraConfig(r=16, lora_alpha=32, target_modules=["v_proj", "q_proj"], task_type=TaskType.CAUSAL_LM)
    b = LoraConfig(r=16, lora_alpha=32.0, target_modules=("q_proj", "v_proj", "q_proj"), task_type="CAUSAL_LM",
                   lora_dropout=0.1)
    assert normalise("lora_config", a) == normalise("lora_config", b)
    assert normalise("lora_config", a) == "r=16;alpha=32;targets=q_proj,v_proj;task=CAUSAL_LM"
    regex = LoraConfig(r=16, lora_alpha=32, target_modules="q_proj", task_type="CAUSAL_LM")
    assert normalise("lora_config", regex) != normalise("lora_config", a)
    with pytest.raises(InvalidAnswer, match="LoraConfig"):
        normalise("lora_config", {"r": 16, "lora_alpha": 32, "target_modules": ["q_proj"]})


def test_modules_ignore_order_and_duplicates_not_spelling():
    assert normalise("modules", ["v_proj", "q_proj", "q_proj"]) == normalise("modules", ("q_proj", "v_proj"))
    assert normalise("modules", ["q_proj"]) != normalise("modules", ["model.layers.0.self_attn.q_proj"])
    with pytest.raises(InvalidAnswer, match="list"):
        normalise("modules", "q_proj")


def test_accepts_right_answers_rejects_wrong_ones(demo):
    right = {
        "demo.q1": ["c", "C", "(c)"],
        "demo.q2": [460800, 460_800.0],
        "demo.q3": [107.8, 108, 107.4, 108.4],
        "demo.q4": [["gate_proj", "up_proj", "down_proj"], ("down_proj", "up_proj", "gate_proj")],
        "demo.q5": [LoraConfig(r=16, lora_alpha=32, target_modules=["v_proj", "q_proj"], task_type="CAUSAL_LM")],
    }
    wrong = {
        "demo.q1": ["a", "b", "d"],
        "demo.q2": [460801, 552960, 15360],
        "demo.q3": [106, 110, 26.95, 1.08e11],
        "demo.q4": [["gate_proj", "up_proj"], ["mlp"]],
        "demo.q5": [LoraConfig(r=16, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
                    LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "v_proj"])],
    }
    for qid, answers in right.items():
        for answer in answers:
            assert checks.is_correct(qid, answer, demo), (qid, answer)
    for qid, answers in wrong.items():
        for answer in answers:
            assert not checks.is_correct(qid, answer, demo), (qid, answer)


def test_explanation_only_after_the_right_answer(demo):
    right = checks.evaluate("demo.q1", "c", demo)
    assert right.correct and right.explanation == "Because α/r halves."
    wrong = checks.evaluate("demo.q1", "d", demo)
    assert not wrong.correct and wrong.explanation is None and "think about α/r" in wrong.message
    assert "a doubles it" in checks.evaluate("demo.q1", "a", demo).message  # a targeted hint for a known mistake
    assert "weights only" in checks.evaluate("demo.q3", 26.95, demo).message
    assert "Can't check" in checks.evaluate("demo.q2", "460800", demo).message


def test_check_prints_verdicts_never_the_key(demo, capsys):
    checks.check("demo.q2", 15360, demo)
    out = capsys.readouterr().out
    assert "Not yet" in out and "460800" not in out and "460,800" not in out
    checks.check("demo.q2", 460800, demo)
    out = capsys.readouterr().out
    assert "Correct" in out and "30 x 15,360" in out


def test_key_file_holds_no_clear_text(demo):
    text = (demo / "demo.json").read_text()
    for secret in ("460800", "460,800", "1.08", "108 GB", "Because", "scale 2", "gate_proj", "CAUSAL_LM", "r=16"):
        assert secret not in text
    entry = json.loads(text)["questions"]["demo.q1"]
    assert "c" not in {v for k, v in entry.items() if k != "choices" and isinstance(v, str) and len(v) == 1}


def test_another_salt_or_question_does_not_verify(demo):
    keys = json.loads((demo / "demo.json").read_text())
    keys["salt"] = "ff" * 16
    (demo / "demo.json").write_text(json.dumps(keys))
    checks.load_keys.cache_clear()
    assert not checks.is_correct("demo.q1", "c", demo)
    keys["salt"] = SALT
    keys["questions"]["demo.q9"] = keys["questions"]["demo.q1"]  # the hash binds the question id
    (demo / "demo.json").write_text(json.dumps(keys))
    checks.load_keys.cache_clear()
    assert not checks.is_correct("demo.q9", "c", demo)


def test_unknown_ids_name_the_known_ones(demo):
    with pytest.raises(KeyError, match="demo.q1"):
        checks.evaluate("demo.q42", "a", demo)
    with pytest.raises(KeyError, match="demo"):
        checks.evaluate("nope.q1", "a", demo)
    with pytest.raises(KeyError, match="quiz1.q3"):
        checks.evaluate("q3", "a", demo)


def test_make_entry_refuses_a_mistake_that_is_the_answer():
    with pytest.raises(ValueError, match="would be accepted"):
        checks.make_entry("x.q1", "sig", 2.36, salt=SALT, hint="", explanation="", mistakes=[(2.37, "close")])
    with pytest.raises(ValueError, match="equals the answer"):
        checks.make_entry("x.q1", "choice", "b", salt=SALT, hint="", explanation="", mistakes=[("B", "same")])


def test_importing_checks_pulls_in_no_heavy_or_instructor_package():
    code = "import sys, lorajam.checks; print(sorted({'nbgrader', 'torch', 'peft', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
