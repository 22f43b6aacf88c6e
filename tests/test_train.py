"""SFT helpers: prompt format, label masking, batched greedy evaluation, LoRA and full training loops."""

import pytest
import torch

from lorajam import data, models
from lorajam.train import (
    IGNORE_INDEX,
    PROMPT_TEMPLATE,
    exact_match,
    format_example,
    format_prompt,
    generate_answers,
    knowledge_probe,
    tokenize_with_labels,
    train_full,
    train_lora,
)

PERU = {"instruction": "What is the capital of Peru?", "response": "Lima"}


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return models.load("jam-tiny")


@pytest.fixture(scope="module")
def tokenizer(tiny):
    return tiny[1]


def test_prompt_format():
    prompt = format_prompt("  What is the capital of Peru? ")
    assert prompt == PROMPT_TEMPLATE.format(instruction="What is the capital of Peru?")
    assert prompt.endswith("### Answer:")
    assert format_example(PERU) == (prompt, " Lima")


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_empty_instruction_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="instruction"):
        format_prompt(bad)


def test_missing_field_is_a_clear_error():
    with pytest.raises(KeyError, match="response"):
        format_example({"instruction": "hi"})


def test_labels_mask_prompt_and_padding(tokenizer):
    row = tokenize_with_labels(PERU, tokenizer, max_length=48)
    assert all(len(row[k]) == 48 for k in ("input_ids", "attention_mask", "labels"))
    prompt_ids = tokenizer(format_prompt(PERU["instruction"]))["input_ids"]
    answer_ids = tokenizer(" Lima", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    n_real = len(prompt_ids) + len(answer_ids)
    assert row["input_ids"][:n_real] == prompt_ids + answer_ids
    assert row["labels"][: len(prompt_ids)] == [IGNORE_INDEX] * len(prompt_ids)
    assert row["labels"][len(prompt_ids): n_real] == answer_ids
    assert row["labels"][n_real:] == [IGNORE_INDEX] * (48 - n_real)
    assert row["attention_mask"] == [1] * n_real + [0] * (48 - n_real)
    with pytest.raises(ValueError, match="max_length"):
        tokenize_with_labels(PERU, tokenizer, max_length=8)


def test_answer_keeps_its_pretraining_tokens(tokenizer):
    """The SFT answer is the same token sequence as in 'The capital of Peru is Lima.'; a newline would not be."""
    sentence = tokenizer("The capital of Peru is Lima.", add_special_tokens=False)["input_ids"]
    row = tokenize_with_labels(PERU, tokenizer, max_length=48)
    answer = [t for t in row["labels"] if t != IGNORE_INDEX][:-1]
    assert any(sentence[i: i + len(answer)] == answer for i in range(len(sentence)))
    glued = tokenizer("\nLima", add_special_tokens=False)["input_ids"]
    assert glued[-len(answer):] != answer


def test_chat_template_matches_the_prompt_format(tokenizer):
    user = [{"role": "user", "content": PERU["instruction"]}]
    text = tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
    assert text == tokenizer.bos_token + format_prompt(PERU["instruction"])
    full = user + [{"role": "assistant", "content": PERU["response"]}]
    text = tokenizer.apply_chat_template(full, tokenize=False)
    assert text == tokenizer.bos_token + "".join(format_example(PERU)) + tokenizer.eos_token
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    row = tokenize_with_labels(PERU, tokenizer, max_length=64)
    assert ids == row["input_ids"][: sum(row["attention_mask"])]


def test_batched_generation_equals_one_by_one(tiny):
    model, tokenizer = tiny
    side = tokenizer.padding_side
    prompts = ["The capital of Peru is", "3 plus 4 is", format_prompt("What is the opposite of hot?"), "A"]
    batched = generate_answers(model, tokenizer, prompts, max_new_tokens=5, batch_size=4)
    single = [generate_answers(model, tokenizer, [p], max_new_tokens=5, batch_size=1)[0] for p in prompts]
    assert batched == single
    assert tokenizer.padding_side == side, "generation must restore the tokenizer's padding side"


def test_exact_match_scores_the_predictions(tiny):
    model, tokenizer = tiny
    examples = data.instruction_examples("validation")[:12]
    score, preds = exact_match(model, tokenizer, examples, return_predictions=True)
    assert len(preds) == len(examples)
    assert score == sum(p == ex["response"] for p, ex in zip(preds, examples, strict=True)) / len(examples)
    with pytest.raises(ValueError, match="at least one"):
        exact_match(model, tokenizer, [])


def test_knowledge_probe_details(tiny):
    model, tokenizer = tiny
    facts = data.probe_facts()[:10]
    score, details = knowledge_probe(model, tokenizer, facts=facts, return_details=True)
    assert [f for f, _ in details] == facts
    assert score == sum(f.answer == given for f, given in details) / len(facts)


def test_train_lora_trains_only_the_adapters():
    model, tokenizer = models.load("jam-tiny")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    seen = []
    result = train_lora(model, tokenizer, data.instruction_examples("train")[:32], steps=4, batch_size=8,
                        callback=lambda step, loss: seen.append((step, loss)), progress=False)
    assert [s for s, _ in seen] == [0, 1, 2, 3] and [loss for _, loss in seen] == result.losses
    cfg = model.config
    assert result.trainable_parameters == cfg.num_hidden_layers * 2 * 8 * (2 * cfg.hidden_size)
    assert result.seconds > 0 and result.steps == 4
    for name, p in result.model.named_parameters():
        if "lora_" in name:
            assert p.requires_grad
        else:
            assert not p.requires_grad
    base = result.model.get_base_model()
    for name, p in base.named_parameters():
        key = name.replace(".base_layer", "")
        if "lora_" not in name:
            assert torch.equal(p, before[key]), f"{name} changed"


def test_train_lora_rejects_unknown_module_names():
    model, tokenizer = models.load("jam-tiny")
    with pytest.raises(ValueError, match="q_proj"):
        train_lora(model, tokenizer, data.instruction_examples("train")[:4], target_modules=("query",),
                   steps=1, progress=False)


def test_train_full_lowers_the_loss_on_a_small_batch():
    model, tokenizer = models.load("jam-tiny")
    examples = data.instruction_examples("train")[:8]
    result = train_full(model, tokenizer, examples, steps=12, batch_size=8, lr=1e-3, progress=False)
    assert result.trainable_parameters == sum(p.numel() for p in model.parameters())
    assert sum(result.losses[-3:]) / 3 < result.losses[0]
