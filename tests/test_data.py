"""The synthetic knowledge base, pretraining corpus and instruction data set of jam-tiny."""

import collections
import json

import pytest

from lorajam import data
from lorajam import knowledge as kb
from lorajam.train import PROMPT_TEMPLATE


def test_knowledge_base_sizes_meet_the_issue():
    assert len(kb.COUNTRIES) >= 100
    assert len(kb.ANIMALS) >= 50
    assert len(kb.ANTONYMS) >= 100
    assert len(kb.COLOURS) >= 30
    assert len(kb.DAYS) == 7 and len(kb.MONTHS) == 12
    assert {1, 2, 10, 20, 100} <= set(kb.NUMBER_WORDS)
    assert {row[2] for row in kb.COUNTRIES} == {
        "Africa", "Asia", "Europe", "North America", "South America", "Oceania"
    }


def test_every_question_has_one_answer():
    words = [w for pair in kb.ANTONYMS for w in pair]
    assert len(words) == len(set(words)), "an antonym word appears in two pairs"
    countries = [c for c, _, _ in kb.COUNTRIES]
    assert len(countries) == len(set(countries))
    prompts = [f.prompt for f in data.probe_facts()]
    duplicated = [p for p, n in collections.Counter(prompts).items() if n > 1]
    assert not duplicated


def test_probe_covers_every_fact():
    facts = data.probe_facts()
    fams = collections.Counter(f.family for f in facts)
    assert fams["capital"] == fams["continent"] == len(kb.COUNTRIES)
    assert fams["opposite"] == 2 * len(kb.ANTONYMS)
    assert fams["sum"] == len(kb.SUMS)
    peru = next(f for f in facts if f.prompt == "The capital of Peru is")
    assert peru.answer == "Lima"


def test_corpus_is_deterministic_and_seeded():
    a = data.pretraining_corpus(seed=3, n_chars=50_000)
    b = data.pretraining_corpus(seed=3, n_chars=50_000)
    c = data.pretraining_corpus(seed=4, n_chars=50_000)
    assert a == b
    assert a != c
    assert 50_000 <= len(a) < 52_000


def test_corpus_states_every_probe_fact_in_its_probe_phrasing():
    corpus = data.pretraining_corpus()  # default size: a few MB
    assert len(corpus) >= 3_000_000
    missing = [f for f in data.probe_facts() if f"{f.prompt} {f.answer}." not in corpus]
    assert not missing, f"{len(missing)} facts never stated, e.g. {missing[:3]}"


def test_corpus_never_shows_the_instruction_format():
    corpus = data.pretraining_corpus()
    head, tail = (part.strip() for part in PROMPT_TEMPLATE.split("{instruction}"))
    assert head not in corpus and tail not in corpus
    assert "###" not in corpus


def test_bundled_files_match_the_generator():
    rebuilt = data.build_instruction_examples()
    bundled = [ex for split in data.SPLITS for ex in data.instruction_examples(split)]
    key = lambda ex: (ex["split"], ex["entity"], ex["instruction"])  # noqa: E731
    assert sorted(rebuilt, key=key) == sorted(bundled, key=key)


def test_instruction_generation_is_deterministic(tmp_path):
    first = data.write_instruction_files(tmp_path / "a")
    second = data.write_instruction_files(tmp_path / "b")
    for split in data.SPLITS:
        assert first[split].read_bytes() == second[split].read_bytes()


def test_splits_are_entity_disjoint():
    entities = {split: {ex["entity"] for ex in data.instruction_examples(split)} for split in data.SPLITS}
    assert not entities["test"] & (entities["train"] | entities["validation"])
    assert not entities["validation"] & entities["train"]
    test_tasks = {ex["task"] for ex in data.instruction_examples("test")}
    assert test_tasks == set(data.TASKS), "every task type must be measured on the test split"


def test_instruction_records_have_the_documented_fields():
    rows = data.instruction_examples("train")
    assert len(rows) >= 400
    for row in rows:
        assert {"instruction", "response", "task", "split"} <= set(row)
        assert row["split"] == "train"
        assert row["response"] == row["response"].strip() and row["response"]


def test_load_dataset_reads_the_bundled_files():
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("json", data_files=data.instruction_data_files())
    assert set(ds) == set(data.SPLITS)
    assert ds["test"].num_rows == len(data.instruction_examples("test"))
    first = json.loads(open(data.instruction_data_files()["train"]).readline())
    assert ds["train"][0]["instruction"] == first["instruction"]


def test_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="train, validation, test"):
        data.instruction_examples("dev")
