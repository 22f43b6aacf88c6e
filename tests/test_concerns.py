"""lorajam.concerns: the measuring helpers, and every effect notebook 03 claims, on its QUICK setting.

The claim tests run the notebook's own quick sizes (`concerns.SIZES["quick"]`) on jam-tiny, one run per
experiment shared through module-scoped fixtures, so a regression in a teaching claim fails here.
"""

import copy
import json
import math
import subprocess
import sys

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from lorajam import budget, concerns, data, models, train

QUICK = concerns.SIZES["quick"]
SEED = 0
LINUX = sys.platform.startswith("linux")


def tiny_llama(vocab: int = 128, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    return LlamaForCausalLM(cfg)


# ---------------------------------------------------------------- helpers, on small random models
def test_table_aligns_columns():
    text = concerns.table([{"run": "a", "n": 1000, "x": 0.5}, {"run": "bb", "n": 7, "x": 12.25}])
    lines = text.splitlines()
    assert lines[0].split() == ["run", "n", "x"]
    assert "1,000" in lines[2] and len({len(line) for line in lines}) == 1
    assert concerns.table([]) == "(no rows)"


def test_retention_counts_only_facts_known_before():
    assert concerns.retention([True, True, False, True], [True, False, True, True]) == pytest.approx(2 / 3)
    with pytest.raises(concerns.ConcernsError, match="knows none"):
        concerns.retention([False, False], [True, True])
    with pytest.raises(concerns.ConcernsError, match="different facts"):
        concerns.retention([True], [True, False])


def test_weight_change_is_relative_frobenius_distance():
    model = tiny_llama()
    before = concerns.snapshot(model)
    assert concerns.weight_change(before, model) == 0.0
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.1)
    assert concerns.weight_change(before, model) == pytest.approx(0.1, rel=1e-4)
    with pytest.raises(concerns.ConcernsError, match="merge"):
        concerns.weight_change({"other.weight": torch.ones(2)}, model)


def test_weight_change_sees_a_merged_lora_update():
    from peft import LoraConfig, get_peft_model

    model = tiny_llama()
    before = concerns.snapshot(model)
    peft_model = get_peft_model(copy.deepcopy(model), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.fill_(0.01)
    merged = peft_model.merge_and_unload()
    change = concerns.weight_change(before, merged)
    assert 0 < change < 1
    moved = [n for n, p in merged.named_parameters() if not torch.equal(p, before[n])]
    assert moved and all("q_proj" in n or "v_proj" in n for n in moved)


def test_run_spec_validates_and_labels():
    assert concerns.RunSpec("full", 1e-4).label == "full lr=0.0001"
    assert concerns.RunSpec("lora", 1e-3).label == "LoRA r=8 q/v lr=0.001"
    assert concerns.RunSpec("lora", 1e-3, r=2, targets=concerns.ALL_LINEAR).label == "LoRA r=2 all-linear lr=0.001"
    with pytest.raises(concerns.ConcernsError, match="method"):
        concerns.RunSpec("qlora", 1e-3)
    with pytest.raises(concerns.ConcernsError, match="positive"):
        concerns.RunSpec("full", 0)


def test_sizes_quick_wins_then_full():
    assert concerns.sizes(True, True) is concerns.SIZES["quick"]
    assert concerns.sizes(False, True) is concerns.SIZES["full"]
    assert concerns.sizes(False) is concerns.SIZES["standard"]
    for s in concerns.SIZES.values():  # the notebook's text says 32 examples vs 256, and runs both methods
        assert (s.overfit_train, s.overfit_more) == (32, 256)
        assert {spec.method for spec in s.sweep} == {"full", "lora"}


def test_expect_prints_raises_or_reports(capsys):
    assert concerns.expect(True, "a claim") is True
    with pytest.raises(AssertionError, match="expected a claim"):
        concerns.expect(False, "a claim")
    assert concerns.expect(False, "a claim", strict=False) is False
    out = capsys.readouterr().out
    assert "as expected: a claim" in out and "NOT on this model: a claim" in out


def test_sample_is_seeded_and_all_when_too_few():
    items = list(range(100))
    assert concerns.sample(items, 10, 3) == concerns.sample(items, 10, 3) != concerns.sample(items, 10, 4)
    assert concerns.sample(items, None) == items == concerns.sample(items, 500)


# ---------------------------------------------------------------- jam-tiny
@pytest.fixture(scope="module")
def jam():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    model, tokenizer = models.load("jam-tiny")
    return model, tokenizer


@pytest.fixture(scope="module")
def splits():
    return {s: data.instruction_examples(s) for s in data.SPLITS}


def test_sft_loss_matches_the_models_own_masked_loss(jam, splits):
    model, tokenizer = jam
    example = splits["train"][0]
    row = train.tokenize_with_labels(example, tokenizer)
    n = sum(row["attention_mask"])
    batch = {k: torch.tensor([v[:n]]) for k, v in row.items()}
    with torch.no_grad():
        expected = model(**batch).loss.item()
    assert concerns.sft_loss(model, tokenizer, [example]) == pytest.approx(expected, rel=1e-5)


def test_perplexity_matches_the_models_own_loss(jam):
    model, tokenizer = jam
    texts = concerns.heldout_texts(8)
    ids = []
    for enc in tokenizer(texts)["input_ids"]:
        ids += enc + [tokenizer.eos_token_id]
    n = len(ids) // 64
    rows = torch.tensor(ids[: n * 64]).view(n, 64)
    with torch.no_grad():
        expected = math.exp(model(input_ids=rows, labels=rows).loss.item())
    assert concerns.perplexity(model, tokenizer, texts, block=64, batch_size=3) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(concerns.ConcernsError, match="fewer than one block"):
        concerns.perplexity(model, tokenizer, ["Hi."], block=64)


def test_heldout_texts_are_not_the_pretraining_documents():
    held = concerns.heldout_texts(32)
    seen = set(data.pretraining_documents(data.DATA_SEED, concerns.PRETRAINING_CHARS))
    assert len(held) == 32 and not seen.intersection(held)


# ---------------------------------------------------------------- claim 1: compute cost
def compare_memory_in_fresh_process(**kwargs) -> list[concerns.MemoryRow]:
    """`concerns.compare_memory` on jam-tiny in a new Python process, as the notebook's fresh kernel runs it.

    Peak RSS of a long pytest process carries every earlier test's allocator state, so it is no place to measure.
    """
    script = (
        "import dataclasses, json, sys, torch\n"
        "from lorajam import concerns, models\n"
        "torch.set_num_threads(1)\n"
        "model, _ = models.load('jam-tiny')\n"
        "rows = concerns.compare_memory(model, 'jam-tiny', progress=False, **json.loads(sys.argv[1]))\n"
        "print(json.dumps([dataclasses.asdict(r) for r in rows]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, json.dumps(kwargs)], capture_output=True, text=True,
                          timeout=600, check=True)
    return [concerns.MemoryRow(**row) for row in json.loads(done.stdout.strip().splitlines()[-1])]


@pytest.fixture(scope="module")
def memory_rows():
    return compare_memory_in_fresh_process(batch=QUICK.mem_batch, seq_len=QUICK.mem_seq_len, steps=QUICK.mem_steps)


@pytest.mark.skipif(not LINUX, reason="CPU memory is measured from /proc (Linux)")
def test_full_finetuning_needs_more_memory_than_lora(memory_rows):
    rows = {r.setting: r for r in memory_rows}
    assert set(rows) == {"full FT", "LoRA r=8 q/v", "LoRA r=8 all-linear"}
    full = rows.pop("full FT")
    for lora_row in rows.values():
        assert 1 < full.measured_bytes / lora_row.measured_bytes < 4  # activations are needed either way
        assert lora_row.trainable < 0.05 * full.trainable


@pytest.mark.skipif(not LINUX, reason="CPU memory is measured from /proc (Linux)")
def test_estimate_within_20_percent_of_measurement(memory_rows):
    for row in memory_rows:
        assert abs(row.estimate_bytes / row.measured_bytes - 1) < 0.2, row.row()


@pytest.mark.skipif(not LINUX, reason="CPU memory is measured from /proc (Linux)")
def test_measurement_after_a_bigger_run_is_not_too_low():
    """glibc keeps freed buffers; without returning them a LoRA run measured after full FT reads far too low."""
    settings = [["lora", ["q_proj", "v_proj"]], ["full", []], ["lora", ["q_proj", "v_proj"]]]
    first, _, again = compare_memory_in_fresh_process(settings=settings, batch=QUICK.mem_batch,
                                                      seq_len=QUICK.mem_seq_len, steps=2)
    assert again.measured_bytes == pytest.approx(first.measured_bytes, rel=0.15)


def test_scaled_estimates_claims():
    rows = {r["model"]: r for r in concerns.scaled_estimates()}
    assert all(r["full GB"] > 80 for r in rows.values())  # full FT of 7B+ never fits one A100
    assert rows["LLaMA-65B"]["qlora GB"] < 48 < rows["LLaMA-65B"]["lora GB"]  # QLoRA's 65B on one 48 GB GPU
    gpt3 = budget.preset("GPT-3-175B")
    fewer = budget.total_params(gpt3) / budget.lora_params(gpt3, r=4, targets=("q_proj", "v_proj"))
    assert 5_000 < fewer < 20_000  # the LoRA paper's "10,000x"
    full_tb, lora_tb = (budget.memory(gpt3, m, r=4, seq_len=512, precision="fp16").peak / 1e12
                        for m in ("full", "lora"))
    assert full_tb > 1.2 and 0.25 < lora_tb < 0.5  # above the paper's 1.2 TB; near its 350 GB
    assert full_tb / lora_tb > 1.2 / 0.35  # a gap at least the paper's


def test_compare_memory_rejects_bad_settings():
    model = tiny_llama()
    with pytest.raises(concerns.ConcernsError, match="method"):
        concerns.compare_memory(model, settings=(("qlora", ("q_proj",)),), progress=False)
    with pytest.raises(budget.BudgetError, match="q_proj"):
        concerns.compare_memory(model, settings=(("lora", ("query",)),), progress=False)


# ---------------------------------------------------------------- claim 2: overfitting
@pytest.fixture(scope="module")
def curves(jam, splits):
    """The notebook's three quick runs: 32 examples at lr 1e-3, 32 at 3e-4, 256 at 3e-4 (all full FT)."""
    model, tokenizer = jam
    val = concerns.sample(splits["validation"], QUICK.n_val, SEED)
    test = concerns.sample(splits["test"], QUICK.n_test, SEED)
    small = concerns.sample(splits["train"], QUICK.overfit_train, SEED)
    more = concerns.sample(splits["train"], QUICK.overfit_more, SEED)
    run = dict(steps=QUICK.overfit_steps, eval_every=QUICK.eval_every, batch_size=QUICK.overfit_batch, seed=SEED,
               progress=False)
    return [concerns.overfit_run(model, tokenizer, examples, val, test, method="full", lr=lr, **run)
            for examples, lr in ((small, 1e-3), (small, 3e-4), (more, 3e-4))]


def test_overfitting_training_loss_collapses(curves):
    high = curves[0]
    assert high.steps == list(range(0, QUICK.overfit_steps + 1, QUICK.eval_every))
    assert high.train_loss[-1] < 0.2 * high.train_loss[0]


def test_overfitting_validation_loss_rises_after_its_minimum(curves):
    high = curves[0]
    assert high.best_step < high.steps[-1]
    assert high.rise > 0


def test_a_lower_learning_rate_overfits_less(curves):
    high, low, _ = curves
    assert low.rise < high.rise


def test_more_data_reaches_a_lower_validation_loss(curves):
    _, low, many = curves
    assert many.val_loss[many.best] < low.val_loss[low.best]


def test_overfit_run_does_not_touch_the_base_model(jam, splits):
    model, tokenizer = jam
    before = concerns.snapshot(model)
    ex = splits["train"][:4]
    concerns.overfit_run(model, tokenizer, ex, ex, ex, method="lora", lr=1e-2, steps=2, eval_every=1, progress=False)
    assert concerns.weight_change(before, model) == 0.0
    assert not any("lora" in n for n, _ in model.named_parameters())


def test_overfit_run_rejects_bad_settings(jam, splits):
    model, tokenizer = jam
    ex = splits["train"][:4]
    with pytest.raises(concerns.ConcernsError, match="eval_every"):
        concerns.overfit_run(model, tokenizer, ex, ex, ex, steps=5, eval_every=10, progress=False)
    with pytest.raises(concerns.ConcernsError, match="non-empty"):
        concerns.overfit_run(model, tokenizer, ex, [], ex, steps=5, eval_every=1, progress=False)


# ---------------------------------------------------------------- claim 3: forgetting
@pytest.fixture(scope="module")
def sweep(jam, splits):
    model, tokenizer = jam
    test = concerns.sample(splits["test"], QUICK.n_test, SEED)
    facts = concerns.sample(data.probe_facts(), QUICK.n_facts, SEED)
    texts = concerns.heldout_texts(QUICK.n_texts)
    train_ex = concerns.sample(splits["train"], QUICK.sweep_train, SEED)
    return concerns.forgetting_sweep(model, tokenizer, QUICK.sweep, train_ex, test, facts, texts,
                                     steps=QUICK.sweep_steps, batch_size=QUICK.sweep_batch, seed=SEED,
                                     progress=False)


def test_sweep_measures_every_run(sweep):
    baseline, results = sweep
    assert [r.spec for r in results] == list(QUICK.sweep)
    assert baseline.probe > 0.5  # the base model knows its facts: there is something to forget
    for r in results:
        assert 0 <= r.new_task <= 1 and 0 <= r.retention <= 1 and r.perplexity > 1 and r.weight_change > 0
        assert r.steps == QUICK.sweep_steps


def test_worst_full_finetuning_forgets_more_than_worst_lora(sweep):
    _, results = sweep
    assert concerns.worst_retention(results, "full") < concerns.worst_retention(results, "lora")


def test_at_the_same_learning_rate_lora_moves_less_and_keeps_as_much(sweep):
    _, results = sweep
    pairs = [(f, lo) for f in results if f.spec.method == "full"
             for lo in results if lo.spec.method == "lora" and lo.spec.lr == f.spec.lr]
    assert pairs, "the quick sweep must share a learning rate between full FT and LoRA"
    for full, lora in pairs:
        assert lora.weight_change < full.weight_change
        assert lora.retention >= full.retention


def test_full_finetuning_at_a_higher_learning_rate_moves_further_and_forgets_more(sweep):
    _, results = sweep
    full = sorted((r for r in results if r.spec.method == "full"), key=lambda r: r.spec.lr)
    low, high = full[0], full[-1]
    assert high.spec.lr > low.spec.lr
    assert high.weight_change > low.weight_change
    assert high.retention < low.retention


def test_worst_retention_needs_runs_of_that_method(sweep):
    _, results = sweep
    with pytest.raises(concerns.ConcernsError, match="no 'qlora' run"):
        concerns.worst_retention(results, "qlora")
