"""The bundled jam-tiny model: files, loading, and what it knows (accuracies computed here, never stored)."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

from lorajam import data, models
from lorajam.train import exact_match, knowledge_probe, train_lora

# LoRA sanity run: r=8, alpha=16, q/v; seconds measured by benchmarks/jam_tiny.py (goal <= 60 s on 2 cores).
SFT_STEPS = 200
SFT_LR = 3e-3
SFT_BATCH = 16


@pytest.fixture(scope="module")
def jam():
    return models.load("jam-tiny")


def test_files_are_bundled_and_small():
    path = models.jam_tiny_path()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "MODEL_CARD.md"):
        assert (path / name).is_file(), name
    assert not list(path.glob("*.bin")), "weights must be safetensors only"
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    assert size <= 20 * 2**20, f"jam-tiny folder is {size / 2**20:.1f} MiB"
    card = (path / "MODEL_CARD.md").read_text()
    assert "Apache-2.0" in card


def test_loads_offline_with_auto_classes():
    path = models.jam_tiny_path()
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert isinstance(model, LlamaForCausalLM)
    assert sum(p.numel() for p in model.parameters()) <= 10_000_000
    assert tokenizer.bos_token and tokenizer.eos_token and tokenizer.pad_token
    assert len({tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}) == 3
    assert tokenizer.chat_template
    assert json.loads((path / "config.json").read_text())["model_type"] == "llama"


def test_module_names_match_real_llama_models(jam):
    model, _ = jam
    leaves = {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    assert {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} <= leaves


def test_models_load_returns_model_and_tokenizer(jam):
    model, tokenizer = jam
    assert models.resolve("jam-tiny") == str(models.jam_tiny_path())
    ids = tokenizer("The capital of Peru is", return_tensors="pt")
    assert ids["input_ids"][0, 0].item() == tokenizer.bos_token_id
    with torch.no_grad():
        logits = model(**ids).logits
    assert logits.shape[-1] == model.config.vocab_size
    assert torch.isfinite(logits).all()


@pytest.mark.slow
def test_base_model_knows_the_facts(jam):
    model, tokenizer = jam
    score, details = knowledge_probe(model, tokenizer, return_details=True)
    wrong = [(f.prompt, f.answer, given) for f, given in details if given != f.answer]
    assert score >= 0.90, f"probe {score:.1%}; e.g. {wrong[:5]}"


@pytest.mark.slow
def test_base_model_does_not_follow_the_instruction_format(jam):
    model, tokenizer = jam
    score = exact_match(model, tokenizer, data.instruction_examples("test"))
    assert score <= 0.20, f"zero-shot exact match {score:.1%} leaves no room for the lab"


@pytest.mark.slow
def test_short_lora_sft_generalises_to_held_out_entities():
    torch.manual_seed(0)
    model, tokenizer = models.load("jam-tiny")
    result = train_lora(model, tokenizer, data.instruction_examples("train"), r=8, alpha=16,
                        target_modules=("q_proj", "v_proj"), steps=SFT_STEPS, lr=SFT_LR, batch_size=SFT_BATCH,
                        seed=0, progress=False)
    score, preds = exact_match(result.model, tokenizer, data.instruction_examples("test"), return_predictions=True)
    assert result.losses[-1] < result.losses[0]
    assert score >= 0.85, f"test-split exact match after LoRA SFT: {score:.1%}"
