"""`lorajam.lora`: the from-scratch LoRA layer behaves like the paper says and like peft computes."""

from __future__ import annotations

import copy
import math
import re

import pytest
import torch
from torch import nn

from lorajam.lora import (
    LoRALinear,
    TargetModulesNotFoundError,
    inject_lora,
    linear_module_names,
    lora_modules,
    lora_state_dict,
    merge_and_unload,
    merge_lora,
    print_trainable_parameters,
    trainable_parameters,
    unmerge_lora,
)

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

LLAMA_LINEARS = ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]


def tiny_llama(seed: int = 0) -> nn.Module:
    """A random-weight Llama with grouped-query attention, so q/v projections are not square."""
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=97,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return transformers.LlamaForCausalLM(config).eval()


def randomize_lora(module: LoRALinear, seed: int = 1) -> None:
    """Give B a non-zero value, as after some training steps."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        module.lora_B.copy_(torch.randn(module.lora_B.shape, generator=gen) * 0.1)


def peft_single_linear(base: nn.Linear, r: int, alpha: float, use_rslora: bool = False):
    """peft's LoRA around a copy of `base`, built through peft's public injection API."""
    holder = nn.Module()
    holder.proj = copy.deepcopy(base)
    config = peft.LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=["proj"], use_rslora=use_rslora)
    peft.inject_adapter_in_model(config, holder)
    return holder.proj


def copy_peft_weights_into_ours(ours: LoRALinear, theirs) -> None:
    with torch.no_grad():
        ours.lora_A.copy_(theirs.lora_A["default"].weight)
        ours.lora_B.copy_(theirs.lora_B["default"].weight)


# ---------------------------------------------------------------- the layer


def test_output_equals_base_at_initialisation():
    torch.manual_seed(0)
    base = nn.Linear(32, 48)
    layer = LoRALinear(base, r=4, alpha=8)
    x = torch.randn(5, 7, 32)
    assert torch.count_nonzero(layer.lora_B) == 0
    assert torch.count_nonzero(layer.lora_A) > 0
    assert torch.equal(layer(x), base(x))


def test_a_is_kaiming_uniform_like_nn_linear():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(400, 10), r=64)
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)) on fan_in=400
    assert layer.lora_A.shape == (64, 400) and layer.lora_B.shape == (10, 64)
    assert layer.lora_A.abs().max() <= bound
    assert layer.lora_A.abs().max() > 0.9 * bound  # uniform over the whole range, not a narrower init
    assert abs(layer.lora_A.std().item() - bound / math.sqrt(3)) < 0.05 * bound


@pytest.mark.parametrize(("r", "alpha", "rslora", "expected"), [(8, 16, False, 2.0), (4, 16, True, 8.0)])
def test_scaling(r, alpha, rslora, expected):
    assert LoRALinear(nn.Linear(8, 8), r=r, alpha=alpha, use_rslora=rslora).scaling == pytest.approx(expected)


def test_delta_weight_is_scaled_b_times_a_and_matches_the_forward():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(16, 12, bias=False), r=3, alpha=6)
    randomize_lora(layer)
    delta = layer.delta_weight()
    assert delta.shape == (12, 16)
    assert torch.linalg.matrix_rank(delta) == 3
    x = torch.randn(4, 16)
    torch.testing.assert_close(layer(x), x @ (layer.base_layer.weight + delta).T, atol=1e-6, rtol=0)


def test_merge_keeps_outputs_and_unmerge_restores_the_weight():
    torch.manual_seed(0)
    base = nn.Linear(64, 32)
    original = base.weight.detach().clone()
    layer = LoRALinear(base, r=8, alpha=16)
    randomize_lora(layer)
    x = torch.randn(10, 64)
    before = layer(x)
    layer.merge()
    assert layer.merged
    assert not torch.allclose(base.weight, original)
    # fp32: the merged matmul sums the same products in another order; differences are ~1e-7
    torch.testing.assert_close(layer(x), before, atol=1e-5, rtol=0)
    layer.unmerge()
    assert not layer.merged
    torch.testing.assert_close(base.weight, original, atol=1e-6, rtol=0)
    torch.testing.assert_close(layer(x), before, atol=1e-6, rtol=0)


def test_double_merge_warns_and_changes_nothing():
    layer = LoRALinear(nn.Linear(8, 8), r=2)
    randomize_lora(layer)
    layer.merge()
    weight = layer.base_layer.weight.detach().clone()
    with pytest.warns(UserWarning, match="already merged"):
        layer.merge()
    assert torch.equal(layer.base_layer.weight, weight)


def test_gradients_reach_only_a_and_b():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(16, 16), r=4)
    randomize_lora(layer)  # with B = 0 the gradient of A would be zero; make both non-trivial
    layer(torch.randn(3, 16)).pow(2).sum().backward()
    assert layer.base_layer.weight.grad is None and layer.base_layer.bias.grad is None
    assert not layer.base_layer.weight.requires_grad
    assert layer.lora_A.grad is not None and layer.lora_A.grad.abs().sum() > 0
    assert layer.lora_B.grad is not None and layer.lora_B.grad.abs().sum() > 0
    assert {n for n, p in layer.named_parameters() if p.requires_grad} == {"lora_A", "lora_B"}


def test_gradients_reach_only_adapters_in_a_model():
    model = inject_lora(tiny_llama(), ["q_proj", "v_proj"], r=4)
    for module in lora_modules(model).values():
        randomize_lora(module)
    ids = torch.randint(0, 97, (2, 9))
    model(input_ids=ids, labels=ids).loss.backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert with_grad and all(re.search(r"\.(q|v)_proj\.lora_[AB]$", n) for n in with_grad)
    assert len(with_grad) == 2 * 2 * 2  # 2 layers x (q, v) x (A, B)


def test_dropout_acts_on_the_lora_branch_only():
    torch.manual_seed(0)
    base = nn.Linear(32, 32)
    layer = LoRALinear(base, r=4, dropout=0.9).train()
    x = torch.randn(64, 32)
    assert torch.equal(layer(x), base(x))  # B = 0: if dropout touched the base path this would differ
    randomize_lora(layer)
    assert not torch.allclose(layer(x), layer(x))  # training: a fresh mask each call
    layer.eval()
    assert torch.equal(layer(x), layer(x))


@pytest.mark.parametrize("use_rslora", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_peft_on_the_same_linear(use_rslora, bias):
    torch.manual_seed(0)
    base = nn.Linear(48, 40, bias=bias)
    theirs = peft_single_linear(base, r=8, alpha=16, use_rslora=use_rslora)
    with torch.no_grad():  # pretend it trained: B non-zero
        theirs.lora_B["default"].weight.normal_(std=0.1)
    ours = LoRALinear(copy.deepcopy(base), r=8, alpha=16, use_rslora=use_rslora)
    copy_peft_weights_into_ours(ours, theirs)
    x = torch.randn(6, 11, 48)
    assert ours.scaling == theirs.scaling["default"]
    out_ours, out_theirs = ours(x), theirs(x)
    assert not torch.allclose(out_theirs, base(x), atol=1e-3)  # the adapter really contributes
    assert (out_ours - out_theirs).abs().max().item() <= 1e-6
    torch.testing.assert_close(ours.delta_weight(), theirs.get_delta_weight("default"), atol=1e-7, rtol=0)


def test_whole_model_matches_peft_and_counts_agree():
    base = tiny_llama()
    ours = inject_lora(copy.deepcopy(base), ["q_proj", "v_proj"], r=4, alpha=8)
    config = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"])
    theirs = peft.get_peft_model(copy.deepcopy(base), config)
    with torch.no_grad():
        for name, module in lora_modules(ours).items():
            peft_module = theirs.base_model.model.get_submodule(name)
            peft_module.lora_B["default"].weight.normal_(std=0.05)
            copy_peft_weights_into_ours(module, peft_module)
    ids = torch.randint(0, 97, (2, 12))
    diff = (ours(input_ids=ids).logits - theirs(input_ids=ids).logits).abs().max().item()
    assert diff <= 1e-5
    assert (base(input_ids=ids).logits - theirs(input_ids=ids).logits).abs().max().item() > 1e-3
    assert trainable_parameters(ours) == theirs.get_nb_trainable_parameters()


def test_trainable_count_is_r_times_din_plus_dout_per_matrix():
    model = tiny_llama()
    base_total = sum(p.numel() for p in model.parameters())
    r = 4
    inject_lora(model, ["q_proj", "v_proj"], r=r)
    cfg = model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    q_out, v_out = cfg.num_attention_heads * head_dim, cfg.num_key_value_heads * head_dim
    assert v_out != cfg.hidden_size  # grouped-query attention: v is not square
    expected = cfg.num_hidden_layers * r * ((cfg.hidden_size + q_out) + (cfg.hidden_size + v_out))
    assert trainable_parameters(model) == (expected, base_total + expected)


def test_print_trainable_parameters_uses_peft_format(capsys):
    model = inject_lora(tiny_llama(), ["q_proj"], r=2)
    trainable, total = print_trainable_parameters(model)
    line = capsys.readouterr().out.strip()
    share = 100 * trainable / total
    assert line == f"trainable params: {trainable:,d} || all params: {total:,d} || trainable%: {share:.4f}"


# ---------------------------------------------------------------- injection


def test_linear_module_names_lists_leaf_names_without_lm_head():
    model = tiny_llama()
    assert linear_module_names(model) == LLAMA_LINEARS
    inject_lora(model, ["q_proj", "v_proj"])
    assert linear_module_names(model) == LLAMA_LINEARS  # no "base_layer" after wrapping


def test_wrong_target_names_list_the_available_ones():
    model = tiny_llama()
    with pytest.raises(TargetModulesNotFoundError) as err:
        inject_lora(model, ["query", "value"])  # BERT/GPT-NeoX names on a Llama model
    message = str(err.value)
    assert "target modules not found" in message and "'query'" in message
    assert all(name in message for name in LLAMA_LINEARS)
    assert not lora_modules(model)  # nothing half-injected


def test_one_wrong_name_among_good_ones_is_reported():
    with pytest.raises(TargetModulesNotFoundError, match=r"\['qproj'\]"):
        inject_lora(tiny_llama(), ["qproj", "v_proj"])


def test_target_that_is_not_a_linear_layer_says_so():
    with pytest.raises(TargetModulesNotFoundError, match="not nn.Linear"):
        inject_lora(tiny_llama(), ["self_attn"])


def test_regex_and_all_linear_targets():
    model = inject_lora(tiny_llama(), r".*layers\.0\.mlp\.(gate|up)_proj")
    assert sorted(lora_modules(model)) == ["model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj"]
    model = inject_lora(tiny_llama(), "all-linear")
    assert len(lora_modules(model)) == 2 * 7 and "lm_head" not in lora_modules(model)
    with pytest.raises(TargetModulesNotFoundError, match="pattern"):
        inject_lora(tiny_llama(), r"attention\.query")


def test_injecting_twice_is_refused():
    model = inject_lora(tiny_llama(), ["q_proj"])
    with pytest.raises(ValueError, match="already have LoRA"):
        inject_lora(model, ["q_proj"])


def test_inject_freezes_everything_but_the_adapters():
    model = inject_lora(tiny_llama(), ["v_proj"], r=2)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"model.layers.{i}.self_attn.v_proj.lora_{m}" for i in range(2) for m in "AB"}


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="positive integer"):
        LoRALinear(nn.Linear(4, 4), r=0)
    with pytest.raises(ValueError, match="dropout"):
        LoRALinear(nn.Linear(4, 4), dropout=1.0)
    with pytest.raises(TypeError, match="nn.Linear"):
        LoRALinear(nn.Conv1d(4, 4, 1))
    with pytest.raises(ValueError, match="empty"):
        inject_lora(tiny_llama(), [])


# ---------------------------------------------------------------- merge, unload, save


def test_model_merge_unmerge_and_unload_keep_outputs():
    model = inject_lora(tiny_llama(), ["q_proj", "v_proj", "down_proj"], r=4)
    for module in lora_modules(model).values():
        randomize_lora(module)
    ids = torch.randint(0, 97, (2, 10))
    with torch.no_grad():
        before = model(input_ids=ids).logits
        merge_lora(model)
        assert all(m.merged for m in lora_modules(model).values())
        torch.testing.assert_close(model(input_ids=ids).logits, before, atol=1e-5, rtol=0)
        unmerge_lora(model)
        torch.testing.assert_close(model(input_ids=ids).logits, before, atol=1e-5, rtol=0)
        merge_and_unload(model)
        assert not lora_modules(model)
        assert type(model.model.layers[0].self_attn.q_proj) is nn.Linear
        torch.testing.assert_close(model(input_ids=ids).logits, before, atol=1e-5, rtol=0)


def test_lora_state_dict_holds_only_the_adapters():
    model = inject_lora(tiny_llama(), ["q_proj", "v_proj"], r=4)
    state = lora_state_dict(model)
    assert len(state) == 2 * 2 * 2
    assert all(k.endswith((".lora_A", ".lora_B")) for k in state)
    assert sum(t.numel() for t in state.values()) == trainable_parameters(model)[0]
