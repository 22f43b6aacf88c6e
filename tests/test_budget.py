"""lorajam.budget: parameter counts equal transformers/peft on real models; memory arithmetic behaves as explained."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from lorajam import budget
from lorajam.measure import hf_config, random_model

TARGET_SETS = [("q_proj", "v_proj"), ("k_proj",), budget.ALL_MODULES, ("o_proj", "down_proj")]


def _meta_model(arch):
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(hf_config(arch))


def _peft_trainable(model, r, targets) -> int:
    from peft import LoraConfig, get_peft_model

    with torch.device("meta") if next(model.parameters()).is_meta else torch.device("cpu"):
        peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=list(targets)))
    return peft_model.get_nb_trainable_parameters()[0]


@pytest.mark.parametrize("name", ["SmolLM2-135M", "Qwen2.5-0.5B", "Gemma-3-270M", "Llama-2-7B"])
@pytest.mark.parametrize("targets", TARGET_SETS)
def test_counts_match_transformers_and_peft(name, targets):
    arch = budget.preset(name)
    model = _meta_model(arch)  # real module tree, no memory
    assert budget.total_params(arch) == model.num_parameters()
    assert budget.lora_params(arch, 8, targets) == _peft_trainable(model, 8, targets)


def test_counts_match_peft_on_a_real_smollm2_shaped_model():
    arch = budget.preset("SmolLM2-135M")
    model = random_model(arch)
    assert budget.total_params(arch) == sum(p.numel() for p in model.parameters()) == 134_515_008
    for r in (1, 16):
        fresh = random_model(replace(arch, n_layers=3))
        expected = budget.lora_params(replace(arch, n_layers=3), r, ("q_proj", "k_proj", "v_proj"))
        assert _peft_trainable(fresh, r, ("q_proj", "k_proj", "v_proj")) == expected


def test_jam_tiny_counts_match_peft():
    pytest.importorskip("safetensors")
    try:
        arch = budget.preset("jam-tiny")
    except budget.BudgetError:
        pytest.skip("jam-tiny weights not installed yet")
    from lorajam import models

    model, _ = models.load("jam-tiny")
    assert budget.total_params(arch) == sum(p.numel() for p in model.parameters())
    assert budget.lora_params(arch, 4, ("q_proj", "v_proj")) == _peft_trainable(model, 4, ("q_proj", "v_proj"))


def test_gqa_makes_k_and_v_smaller_than_q():
    arch = budget.preset("SmolLM2-135M")  # 9 query heads, 3 key/value heads of 64
    shapes = budget.module_shapes(arch)
    assert shapes["q_proj"] == (576, 576) and shapes["k_proj"] == (576, 192) == shapes["v_proj"]
    per = budget.lora_params_per_module(arch, 8)
    assert per["k_proj"] == 8 * (576 + 192) < per["q_proj"]


def test_from_config_reads_objects_and_dicts_like_the_presets():
    for name in ("SmolLM2-135M", "Qwen2.5-0.5B", "Gemma-3-270M", "Llama-2-7B"):
        arch = budget.preset(name)
        cfg = hf_config(arch)
        for source in (cfg, cfg.to_dict()):
            got = budget.from_config(source, name=name)
            assert budget.total_params(got) == budget.total_params(arch)
            assert budget.module_shapes(got) == budget.module_shapes(arch)


def test_from_config_rejects_non_decoder_configs():
    with pytest.raises(budget.BudgetError, match="hidden_size"):
        budget.from_config({"model_type": "resnet"})


def test_published_figures():
    gpt3 = budget.preset("GPT-3-175B")
    assert abs(budget.total_params(gpt3) / 175e9 - 1) < 0.01
    # LoRA paper (Hu et al. 2021), Table 4: 4.7M trainable parameters for W_q, W_v at r = 1 on GPT-3.
    assert round(budget.lora_params(gpt3, 1, ("q_proj", "v_proj")) / 1e6, 1) == 4.7
    assert budget.total_params(budget.preset("Llama-2-7B")) == 6_738_415_616


def test_doubling_r_doubles_trainable_parameters_and_adapter_size():
    one, two = budget.budget("SmolLM2-135M", r=8), budget.budget("SmolLM2-135M", r=16)
    assert two.trainable == 2 * one.trainable and two.adapter_bytes == 2 * one.adapter_bytes
    assert two.memory["full"] == one.memory["full"]  # full FT does not depend on r
    assert two.memory["lora"].peak > one.memory["lora"].peak


def test_scaling_alpha_over_r_and_rslora():
    assert budget.scaling(8, 16) == 2.0
    assert budget.scaling(16, 32) == budget.scaling(8, 16)
    assert math.isclose(budget.scaling(16, 16, rslora=True), 4.0)
    b = budget.budget("SmolLM2-135M", r=4, alpha=8)
    assert b.scale == 2.0 and math.isclose(b.rs_scale, 4.0)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_full_fine_tuning_costs_16_bytes_per_parameter_before_activations(precision):
    arch = budget.preset("Llama-2-7B")
    est = budget.memory(arch, "full", precision=precision)
    assert est.weights + est.gradients + est.optimizer == 16 * budget.total_params(arch)


def test_lora_and_qlora_shrink_weights_gradients_and_optimizer():
    arch = budget.preset("Llama-2-7B")
    kw = dict(r=16, targets=budget.ALL_MODULES, precision="fp16")
    full, lora, qlora = (budget.memory(arch, m, **kw) for m in budget.METHODS)
    adapter = budget.lora_params(arch, 16, budget.ALL_MODULES)
    assert lora.gradients == qlora.gradients == 4 * adapter  # fp32 adapter gradients
    assert lora.optimizer == 8 * adapter  # AdamW: two fp32 states
    assert qlora.weights < lora.weights < full.weights + full.optimizer
    # NF4 base: ~0.5 byte per quantised parameter plus ~0.127 bit of constants (double quantisation).
    quantised = arch.n_layers * budget.block_linear_params(arch)
    rest = budget.total_params(arch) - quantised
    per_param = (qlora.weights - 4 * adapter - 2 * rest) / quantised
    assert 0.5 < per_param < 0.5 + 0.13 / 8 + 1e-6
    no_dq = budget.memory(arch, "qlora", double_quant=False, **kw)
    assert no_dq.weights - qlora.weights == pytest.approx(quantised * (0.5 - 0.127) / 8, rel=0.01)


def test_t4_question_small_models_fit_full_fine_tuning_7b_does_not():
    kw = dict(batch=1, seq_len=256, precision="fp16")
    assert budget.memory("SmolLM2-135M", "full", **kw).fits(budget.GPUS["T4 (16 GB)"])
    assert not budget.memory("Llama-2-7B", "full", **kw).fits(budget.GPUS["T4 (16 GB)"])
    assert budget.memory("Llama-2-7B", "qlora", **kw).fits(budget.GPUS["T4 (16 GB)"])


def test_activations_grow_linearly_with_tokens():
    arch = budget.preset("SmolLM2-135M")
    a1 = budget.activation_bytes(arch, "lora", ("q_proj",), 8, 256)
    a2 = budget.activation_bytes(arch, "lora", ("q_proj",), 8, 512)
    assert a2 == 2 * a1
    assert budget.activation_bytes(arch, "full", ("q_proj",), 8, 256) > a1


def test_optimizer_choice():
    kw = dict(method="full", precision="fp32")
    adam, adam8, sgd = (budget.memory("SmolLM2-135M", optimizer=o, **kw) for o in ("adamw", "adamw-8bit", "sgd"))
    n = budget.total_params(budget.preset("SmolLM2-135M"))
    assert (adam.optimizer, adam8.optimizer, sgd.optimizer) == (8 * n, 2 * n, 0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: budget.preset("GPT-5"), "Unknown preset"),
        (lambda: budget.lora_params(budget.preset("SmolLM2-135M"), 8, ["query"]), "no module"),
        (lambda: budget.lora_params(budget.preset("SmolLM2-135M"), 0, ["q_proj"]), "positive integer"),
        (lambda: budget.budget("SmolLM2-135M", targets=()), "at least one"),
        (lambda: budget.memory("SmolLM2-135M", precision="int3"), "precision"),
        (lambda: budget.memory("SmolLM2-135M", method="prefix"), "method"),
        (lambda: budget.memory("SmolLM2-135M", optimizer="lion"), "optimizer"),
        (lambda: budget.memory("GPT-3-175B", targets=["gate_proj"]), "no module"),
    ],
)
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(budget.BudgetError, match=message):
        call()


def test_summary_rows_and_human_bytes():
    rows = dict(budget.budget("SmolLM2-135M", r=8).rows())
    assert rows["trainable (LoRA)"] == f"{budget.lora_params(budget.preset('SmolLM2-135M'), 8, ('q_proj', 'v_proj')):,}"
    assert budget.human_bytes(1536) == "1.5 KiB" and budget.human_bytes(100) == "100 B"
