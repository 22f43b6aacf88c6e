"""SFT helpers: the prompt format, label masking, exact-match evaluation and small LoRA / full training loops.

The prompt format ends with "### Answer:" and the response starts with a space (" Lima"), so the answer is
tokenised exactly as in pretraining ("The capital of Peru is Lima."). A response glued to a newline ("\\nLima")
would be a different token sequence the model has never seen after a question: the most common silent mistake.

Public API (used by the notebooks and the lab):

* `PROMPT_TEMPLATE`, `CHAT_TEMPLATE`, `format_prompt(instruction)`, `format_example(example)`
* `tokenize_with_labels(example, tokenizer, max_length)`: labels are -100 on the prompt and the padding
* `generate_answers(...)`, `exact_match(...)`: greedy, batched, left padding
* `knowledge_probe(model, tokenizer)`: declarative completion over the whole knowledge base
* `train_lora(...)`, `train_full(...)` -> `TrainResult` (model, losses per step, seconds)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch

PROMPT_TEMPLATE = "### Instruction:\n{instruction}\n\n### Answer:"
RESPONSE_PREFIX = " "  # the answer keeps its leading space: " Lima", as in pretraining
IGNORE_INDEX = -100

# Same text as `format_prompt` (+ bos at the start), so `apply_chat_template` and the SFT helpers agree.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}### Instruction:\n{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'assistant' %}### Answer: {{ message['content'] }}{{ eos_token }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}### Answer:{% endif %}"
)


def format_prompt(instruction: str) -> str:
    """The SFT prompt for one instruction; the model's answer follows right after it."""
    if not isinstance(instruction, str) or not instruction.strip():
        raise ValueError(f"instruction must be a non-empty string, got {instruction!r}.")
    return PROMPT_TEMPLATE.format(instruction=instruction.strip())


def format_example(example: dict) -> tuple[str, str]:
    """`(prompt, response)` texts for an example with 'instruction' and 'response' fields.

    The response gets its leading space (" Lima"); the eos token is added at tokenisation.
    """
    missing = [k for k in ("instruction", "response") if k not in example]
    if missing:
        raise KeyError(f"example is missing {missing}; expected keys 'instruction' and 'response', got "
                       f"{sorted(example)}.")
    return format_prompt(example["instruction"]), RESPONSE_PREFIX + str(example["response"]).strip()


def tokenize_with_labels(example: dict, tokenizer, max_length: int = 64) -> dict[str, list[int]]:
    """Token ids of prompt + response + eos, right-padded to `max_length`.

    `labels` copy the response and eos ids and are -100 on the prompt and on the padding, so the loss only
    teaches the answer. Raises if prompt + response do not fit in `max_length`.
    """
    prompt, response = format_example(example)
    prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = prompt_ids + response_ids
    if len(ids) > max_length:
        raise ValueError(f"example needs {len(ids)} tokens but max_length={max_length}; raise max_length.")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    n_pad = max_length - len(ids)
    return {
        "input_ids": ids + [pad_id] * n_pad,
        "attention_mask": [1] * len(ids) + [0] * n_pad,
        "labels": [IGNORE_INDEX] * len(prompt_ids) + response_ids + [IGNORE_INDEX] * n_pad,
    }


# ---------------------------------------------------------------- evaluation
@torch.no_grad()
def generate_answers(
    model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 8, batch_size: int = 64,
    progress: bool = False,
) -> list[str]:
    """Greedy continuations (new text only, special tokens dropped) of `prompts`, batched with left padding."""
    from tqdm.auto import tqdm

    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    out: list[str] = []
    try:
        starts = range(0, len(prompts), batch_size)
        for start in tqdm(starts, desc="generating", disable=not progress):
            batch = tokenizer(list(prompts[start: start + batch_size]), return_tensors="pt", padding=True)
            batch = {k: v.to(device) for k, v in batch.items()}
            gen = model.generate(
                **batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            new = gen[:, batch["input_ids"].shape[1]:]
            out.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return out


def answer_of(generated: str, stops: str = "\n") -> str:
    """The answer part of a generation: text before the first stop character, stripped."""
    for stop in stops:
        generated = generated.split(stop, 1)[0]
    return generated.strip()


def exact_match(
    model, tokenizer, examples: Iterable[dict], max_new_tokens: int = 12, batch_size: int = 64,
    return_predictions: bool = False, progress: bool = False,
):
    """Fraction of examples whose greedy answer (up to eos or newline) equals the response exactly.

    The prompt is `format_prompt(instruction)`. With `return_predictions=True` returns `(score, predictions)`.
    """
    examples = list(examples)
    if not examples:
        raise ValueError("exact_match needs at least one example.")
    prompts = [format_example(ex)[0] for ex in examples]
    preds = [answer_of(g) for g in generate_answers(model, tokenizer, prompts, max_new_tokens, batch_size,
                                                     progress)]
    score = sum(p == str(ex["response"]).strip() for p, ex in zip(preds, examples, strict=True)) / len(examples)
    return (score, preds) if return_predictions else score


def knowledge_probe(
    model, tokenizer, facts=None, max_new_tokens: int = 10, batch_size: int = 128, return_details: bool = False,
    progress: bool = False,
):
    """Fraction of knowledge-base facts the model completes correctly from a declarative prompt.

    "The capital of Peru is" must continue with " Lima" (text up to the first '.', ',' or newline). `facts`
    defaults to `lorajam.data.probe_facts()` (every fact). With `return_details=True` returns
    `(score, [(fact, answer_given), ...])`.
    """
    from lorajam.data import probe_facts

    facts = list(facts) if facts is not None else probe_facts()
    gens = generate_answers(model, tokenizer, [f.prompt for f in facts], max_new_tokens, batch_size, progress)
    given = [answer_of(g, ".,\n") for g in gens]
    score = sum(g == f.answer for g, f in zip(given, facts, strict=True)) / len(facts)
    return (score, list(zip(facts, given, strict=True))) if return_details else score


# ---------------------------------------------------------------- training loops
@dataclass
class TrainResult:
    """What a training run returns: the trained model, the loss of every step, and wall-clock seconds."""

    model: object
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    trainable_parameters: int = 0


def _collate(rows: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
    """Stack tokenized rows, trimmed to the longest real sequence in the batch."""
    width = max(sum(r["attention_mask"]) for r in rows)
    return {k: torch.tensor([r[k][:width] for r in rows]) for k in ("input_ids", "attention_mask", "labels")}


def _loop(
    model, tokenizer, train_examples: Sequence[dict], *, steps: int, lr: float, batch_size: int, seed: int,
    max_length: int, callback: Callable[[int, float], None] | None, progress: bool, desc: str,
    max_seconds: float | None = None, warmup: int = 10,
) -> TrainResult:
    from tqdm.auto import tqdm

    if not train_examples:
        raise ValueError("train_examples is empty: pass a list of {'instruction', 'response'} dicts.")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1 (got steps={steps}, batch_size={batch_size}).")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    rows = [tokenize_with_labels(ex, tokenizer, max_length) for ex in train_examples]
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    order: list[int] = []
    losses: list[float] = []
    model.train()
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=desc, disable=not progress)
    for step in bar:
        if len(order) < batch_size:
            fresh = list(range(len(rows)))
            rng.shuffle(fresh)
            order += fresh
        idx, order = order[:batch_size], order[batch_size:]
        batch = {k: v.to(device) for k, v in _collate([rows[i] for i in idx]).items()}
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if callback is not None:
            callback(step, losses[-1])
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    model.eval()
    return TrainResult(model, losses, time.perf_counter() - start, len(losses), sum(p.numel() for p in params))


def train_lora(
    model, tokenizer, train_examples: Sequence[dict], *, r: int = 8, alpha: int = 16,
    target_modules: Sequence[str] = ("q_proj", "v_proj"), dropout: float = 0.0, steps: int = 150,
    lr: float = 3e-3, batch_size: int = 16, seed: int = 0, max_length: int = 64,
    callback: Callable[[int, float], None] | None = None, progress: bool = True, max_seconds: float | None = None,
) -> TrainResult:
    """LoRA SFT with peft on `train_examples` (dicts with 'instruction' and 'response').

    Wraps `model` in a `peft` model (base weights frozen), runs `steps` AdamW steps (linear warmup, then
    constant `lr`), calls `callback(step, loss)` after each step, and stops early after `max_seconds` if given.
    Returns a `TrainResult` whose `.model` is the peft model.
    """
    from peft import LoraConfig, get_peft_model

    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    unknown = [t for t in target_modules if t not in names]
    if unknown:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise ValueError(f"target_modules {unknown} are not module names of this model. Linear layers here: "
                         f"{linear}.")
    torch.manual_seed(seed)
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=list(target_modules), lora_dropout=dropout,
                        bias="none", task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    return _loop(peft_model, tokenizer, train_examples, steps=steps, lr=lr, batch_size=batch_size, seed=seed,
                 max_length=max_length, callback=callback, progress=progress, desc="LoRA SFT",
                 max_seconds=max_seconds)


def train_full(
    model, tokenizer, train_examples: Sequence[dict], *, steps: int = 150, lr: float = 3e-4, batch_size: int = 16,
    seed: int = 0, max_length: int = 64, callback: Callable[[int, float], None] | None = None,
    progress: bool = True, max_seconds: float | None = None,
) -> TrainResult:
    """Full fine-tuning (every weight trainable) with the same loop as `train_lora`; modifies `model` in place."""
    for p in model.parameters():
        p.requires_grad_(True)
    return _loop(model, tokenizer, train_examples, steps=steps, lr=lr, batch_size=batch_size, seed=seed,
                 max_length=max_length, callback=callback, progress=progress, desc="full fine-tuning",
                 max_seconds=max_seconds)
