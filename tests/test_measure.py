"""lorajam.measure: real measurements of training memory and time, and the estimator checked against them."""

from __future__ import annotations

import math
import sys
from dataclasses import replace

import pytest
import torch

from lorajam import budget, measure

SMALL = budget.Architecture("small", d_model=128, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=352, vocab=1000)


def _lora(model, targets, r=8):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=r, lora_alpha=16, target_modules=list(targets), lora_dropout=0.0))


def _batch(vocab, b, s):
    ids = torch.randint(0, vocab, (b, s), generator=torch.Generator().manual_seed(0))
    return {"input_ids": ids, "labels": ids}


@pytest.mark.parametrize(
    ("arch", "method", "targets", "b", "s"),
    [
        (SMALL, "full", (), 2, 24),
        (SMALL, "lora", ("q_proj", "v_proj"), 3, 17),
        (SMALL, "lora", budget.ALL_MODULES, 1, 40),
        (replace(budget.preset("SmolLM2-135M"), n_layers=2), "lora", ("k_proj", "down_proj"), 1, 32),
        (replace(budget.preset("Qwen2.5-0.5B"), n_layers=1, vocab=5000), "full", (), 2, 16),
    ],
)
def test_activation_estimate_matches_what_autograd_saves(arch, method, targets, b, s):
    model = measure.random_model(arch)
    if method == "lora":
        model = _lora(model, targets)
    saved = measure.saved_activation_bytes(model, _batch(arch.vocab, b, s))
    estimate = budget.activation_bytes(arch, method, targets or ("q_proj",), 8, b * s)
    assert estimate == pytest.approx(saved, rel=0.02)


def test_measure_training_step_reports_memory_time_and_learning():
    model = measure.random_model(SMALL)
    result = measure.measure_training_step(model, _batch(SMALL.vocab, 2, 16), steps=4)
    assert result["param_bytes"] == pytest.approx(4 * budget.total_params(SMALL), rel=1e-3)  # + rotary buffer
    assert result["seconds_per_step"] > 0 and result["steps"] == 4
    assert all(math.isfinite(x) for x in result["losses"]) and result["losses"][-1] < result["losses"][0]
    if sys.platform.startswith("linux"):
        # weights + gradients + two AdamW states are all resident at the optimizer step
        assert result["peak_bytes"] >= 4 * result["param_bytes"]
        assert "VmHWM" in result["how"]


def test_measure_only_touches_trainable_parameters():
    model = _lora(measure.random_model(SMALL), ("q_proj",))
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    measure.measure_training_step(model, _batch(SMALL.vocab, 1, 8), steps=2)
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if not p.requires_grad)


def test_measure_rejects_bad_input():
    model = measure.random_model(SMALL)
    with pytest.raises(ValueError, match="labels"):
        measure.measure_training_step(model, {"input_ids": torch.zeros(1, 4, dtype=torch.long)})
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        measure.measure_training_step(model, _batch(SMALL.vocab, 1, 4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_peak_comes_from_the_allocator():
    model = measure.random_model(SMALL).cuda()
    result = measure.measure_training_step(model, _batch(SMALL.vocab, 2, 16), steps=2)
    assert result["how"] == "torch.cuda.max_memory_allocated" and result["peak_bytes"] >= 4 * result["param_bytes"]


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS is read from /proc")
@pytest.mark.parametrize("method", ["full", "lora"])
def test_estimate_within_15_percent_of_measured_peak(method):
    """SmolLM2-135M shapes (4 of its 30 blocks, full vocabulary), fresh process: estimate vs measured peak."""
    result = measure.measure_in_subprocess("SmolLM2-135M", method, layers=4, batch=1, seq_len=64, steps=2)
    assert result["layers"] == 4 and result["peak_bytes"] > result["param_bytes"]
    assert abs(result["error"]) <= 0.15, result
