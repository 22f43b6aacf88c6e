"""Measure the concerns with fine-tuning on a small model: compute cost, overfitting, catastrophic forgetting.

Notebook 03 trains full fine-tuning (every weight) beside LoRA and measures what the deck claims:

* `compare_memory(...)` -> `[MemoryRow, ...]`: measured peak training memory and seconds per step of full FT
  (AdamW) and LoRA settings on one model, next to `lorajam.budget`'s estimate (`lorajam.measure` does the
  measuring); `scaled_estimates(...)`: the same estimator for 7B, 65B and 175B models.
* `overfit_run(...)` -> `Curve`: train on a handful of examples for many epochs and record, every few steps, the
  loss on the whole training set, the loss on held-out validation examples and exact match on held-out test
  entities. Training loss falls towards 0 while validation loss turns up after its minimum.
* `forgetting_sweep(...)` -> `Baseline`, `[RunResult, ...]`: fine-tune the same base model once per `RunSpec`
  (full FT or LoRA, learning rate, rank, target modules) and measure, for every run, new-task accuracy on held-out
  entities, retention of pretrained knowledge (`retention`: the share of facts the base model knew that it still
  knows), perplexity on held-out pretraining-style text, and how far the weights moved (`weight_change`).

Each run starts from a fresh copy of the base model (`copy.deepcopy`), so one loaded model serves a whole sweep.
Training goes through `lorajam.train.train_full` / `train_lora`: the same loop as the lab.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from lorajam import budget, data, measure, train

METHODS = ("full", "lora")
HELDOUT_TEXT_SEED = 12345  # pretraining-style documents from another seed than jam-tiny's corpus (seed 0)
PRETRAINING_CHARS = 8_000_000  # size of jam-tiny's corpus (scripts/pretrain_jam_tiny.py --chars)


class ConcernsError(ValueError):
    """A setting the helpers here cannot run; the message says how to fix it."""


def table(rows: Sequence[dict[str, object]]) -> str:
    """Rows of dicts (same keys) as an aligned plain-text table (numbers right-aligned)."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])

    def cell(v: object) -> str:
        if isinstance(v, bool) or v is None:
            return str(v)
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    cells = [[cell(row.get(k)) for k in keys] for row in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    numeric = [all(isinstance(row.get(k), int | float) for row in rows) for k in keys]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True))

    return "\n".join([line(keys), line(["-" * w for w in widths]), *(line(c) for c in cells)]).rstrip()


def expect(ok: bool, claim: str, strict: bool = True) -> bool:
    """Check a claim the notebook made before a run: print it as held, or fail (`strict`) / report that it did not.

    The notebook is strict on jam-tiny, the model its text was measured on; on other models (a Hub model on a GPU)
    a claim that does not hold is reported, not raised, because it is a finding rather than a bug.
    """
    if ok:
        print(f"as expected: {claim}")
    elif strict:
        raise AssertionError(f"expected {claim}")
    else:
        print(f"NOT on this model: {claim}")
    return bool(ok)


# ---------------------------------------------------------------- compute cost
ALL_LINEAR = budget.ALL_MODULES
MEMORY_SETTINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("lora", ("q_proj", "v_proj")),
    ("lora", ALL_LINEAR),
    ("full", ()),
)


def setting_label(method: str, targets: Sequence[str] = (), r: int = 8) -> str:
    """'full FT', 'LoRA r=8 q/v', 'LoRA r=8 all-linear'."""
    if method == "full":
        return "full FT"
    where = "all-linear" if set(targets) >= set(ALL_LINEAR) else "/".join(t.removesuffix("_proj") for t in targets)
    return f"LoRA r={r} {where}"


@dataclass
class MemoryRow:
    """Measured and estimated training cost of one setting on one model."""

    model: str
    setting: str
    trainable: int
    measured_bytes: int | None  # None where memory cannot be measured (macOS/Windows CPU)
    estimate_bytes: int
    seconds_per_step: float
    how: str | None

    def row(self) -> dict[str, object]:
        return {"model": self.model, "setting": self.setting, "trainable": self.trainable,
                "measured MiB": _mib(self.measured_bytes), "estimate MiB": _mib(self.estimate_bytes),
                "s/step": round(self.seconds_per_step, 3)}


def _mib(n: int | None) -> float | None:
    return None if n is None else round(n / 2**20, 1)


def _warm_up(model, batch: dict[str, torch.Tensor]) -> None:
    """One forward/backward so lazily created kernels and library buffers are not counted as training memory."""
    model(**batch).loss.backward()
    model.zero_grad(set_to_none=True)


def compare_memory(
    base, name: str | None = None, settings: Sequence[tuple[str, Sequence[str]]] = MEMORY_SETTINGS, r: int = 8,
    batch: int = 4, seq_len: int = 64, steps: int = 3, seed: int = 0, progress: bool = True,
) -> list[MemoryRow]:
    """Measure peak training memory and seconds per step of each (method, targets) setting on a copy of `base`.

    AdamW, fp32, random token ids of shape (batch, seq_len). Each row carries `lorajam.budget`'s estimate for the
    same setting. On CUDA the peak comes from torch's allocator; on Linux CPU from the process's peak RSS.
    """
    from peft import LoraConfig, get_peft_model
    from tqdm.auto import tqdm

    arch = budget.from_config(base.config, name=name)
    device = next(base.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, arch.vocab, (batch, seq_len), generator=gen).to(device)
    inputs = {"input_ids": ids, "labels": ids}
    rows = []
    with measure.freed_memory_returned():
        _warm_up(base, inputs)
        for method, targets in tqdm(settings, desc=f"measuring {arch.name}", disable=not progress):
            model = copy.deepcopy(base)
            if method == "lora":
                budget.check_targets(arch, targets)
                model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=list(targets),
                                                         lora_dropout=0.0))
            elif method != "full":
                raise ConcernsError(f"method must be 'full' or 'lora', not {method!r}.")
            else:
                model.requires_grad_(True)
            trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
            got = measure.measure_training_step(model, inputs, steps=steps)
            est = budget.memory(arch, method, r=r, targets=targets or ("q_proj", "v_proj"), batch=batch,
                                seq_len=seq_len)
            rows.append(MemoryRow(arch.name, setting_label(method, targets, r), trainable, got["peak_bytes"],
                                  est.peak, got["seconds_per_step"], got["how"]))
            del model, got
    return rows


GPU_LINES_GB: dict[str, float] = {"T4 16 GB": 16, "QLoRA's 48 GB GPU": 48, "A100 80 GB": 80}


def scaled_estimates(
    presets: Sequence[str] = ("Llama-2-7B", "LLaMA-65B", "GPT-3-175B"), methods: Sequence[str] = budget.METHODS,
    r: int = 8, targets: Sequence[str] = ("q_proj", "v_proj"), batch: int = 1, seq_len: int = 512,
    precision: str = "fp16",
) -> list[dict[str, object]]:
    """`lorajam.budget` estimates (GB, 10^9 bytes) and trainable parameters for big models, one row per preset."""
    rows = []
    for name in presets:
        arch = budget.preset(name)
        row: dict[str, object] = {"model": name, "parameters": budget.total_params(arch),
                                  "LoRA trainable": budget.lora_params(arch, r, targets)}
        for method in methods:
            est = budget.memory(arch, method, r=r, targets=targets, batch=batch, seq_len=seq_len, precision=precision)
            row[f"{method} GB"] = round(est.peak / 1e9, 1)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- small measurements
def _batches(rows: list[dict[str, list[int]]], batch_size: int) -> Iterable[dict[str, torch.Tensor]]:
    for start in range(0, len(rows), batch_size):
        chunk = rows[start: start + batch_size]
        width = max(sum(r["attention_mask"]) for r in chunk)
        yield {k: torch.tensor([r[k][:width] for r in chunk]) for k in ("input_ids", "attention_mask", "labels")}


def _token_loss(model, batch: dict[str, torch.Tensor]) -> tuple[float, int]:
    """Summed next-token cross-entropy over the labelled tokens of `batch`, and their count."""
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"][:, 1:]
    loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=train.IGNORE_INDEX, reduction="sum")
    return loss.item(), int((labels != train.IGNORE_INDEX).sum())


@torch.no_grad()
def sft_loss(model, tokenizer, examples: Sequence[dict], batch_size: int = 64, max_length: int = 64) -> float:
    """Mean cross-entropy per response token over `examples` (prompt masked, as in training), eval mode."""
    if not examples:
        raise ConcernsError("sft_loss needs at least one example.")
    rows = [train.tokenize_with_labels(ex, tokenizer, max_length) for ex in examples]
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for batch in _batches(rows, batch_size):
        loss, n = _token_loss(model, batch)
        total, count = total + loss, count + n
    model.train(was_training)
    return total / count


def heldout_texts(n_docs: int = 64, seed: int = HELDOUT_TEXT_SEED) -> list[str]:
    """`n_docs` pretraining-style documents that are not in jam-tiny's corpus (same facts, other sentences).

    Drawn from another seed; the few that also occur in the corpus (short lists, common sentences) are dropped.
    """
    seen = set(data.pretraining_documents(data.DATA_SEED, PRETRAINING_CHARS))
    docs = [d for d in data.pretraining_documents(seed, n_chars=600 * n_docs) if d not in seen]
    if len(docs) < n_docs:
        raise ConcernsError(f"only {len(docs)} held-out documents found; ask for fewer than {n_docs}.")
    return docs[:n_docs]


@torch.no_grad()
def perplexity(model, tokenizer, texts: Sequence[str], block: int = 128, batch_size: int = 16) -> float:
    """exp(mean next-token cross-entropy) over `texts`, packed as bos + text + eos into `block`-token rows."""
    ids: list[int] = []
    for enc in tokenizer(list(texts), add_special_tokens=True)["input_ids"]:
        ids += enc + [tokenizer.eos_token_id]
    n = len(ids) // block
    if n == 0:
        raise ConcernsError(f"texts hold {len(ids)} tokens, fewer than one block of {block}: pass more text.")
    rows = torch.tensor(ids[: n * block]).view(n, block)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, n, batch_size):
        chunk = rows[start: start + batch_size]
        loss, k = _token_loss(model, {"input_ids": chunk, "attention_mask": torch.ones_like(chunk), "labels": chunk})
        total, count = total + loss, count + k
    model.train(was_training)
    return math.exp(total / count)


def snapshot(model) -> dict[str, torch.Tensor]:
    """A detached copy of every parameter (names as in `model.named_parameters()`)."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@torch.no_grad()
def weight_change(before: dict[str, torch.Tensor], model) -> float:
    """How far the weights moved: ||W - W0|| / ||W0|| over all parameters `before` holds (Frobenius norms).

    Merge a LoRA adapter first (`merge_and_unload()`) so its update counts. Raises if no parameter name matches.
    """
    now = dict(model.named_parameters())
    shared = [name for name in before if name in now]
    if not shared:
        raise ConcernsError("No parameter of `model` matches the snapshot: merge the adapter first "
                            "(peft_model.merge_and_unload()) so the names are the base model's.")
    diff = sum(float((now[n].float() - before[n].float().to(now[n].device)).pow(2).sum()) for n in shared)
    base = sum(float(before[n].float().pow(2).sum()) for n in shared)
    return math.sqrt(diff / base)


def known_facts(model, tokenizer, facts: Sequence[data.Fact], batch_size: int = 128) -> list[bool]:
    """For each fact: does the model complete its declarative prompt correctly? (`train.knowledge_probe`)."""
    _, details = train.knowledge_probe(model, tokenizer, facts, batch_size=batch_size, return_details=True)
    return [given == fact.answer for fact, given in details]


def retention(before: Sequence[bool], after: Sequence[bool]) -> float:
    """Share of the facts known before fine-tuning that are still known after it (1.0: nothing forgotten)."""
    if len(before) != len(after):
        raise ConcernsError(f"before and after cover different facts ({len(before)} vs {len(after)}).")
    kept = [a for b, a in zip(before, after, strict=True) if b]
    if not kept:
        raise ConcernsError("The base model knows none of these facts, so there is nothing to retain: check that "
                            "the model is the pretrained one (jam-tiny) and the facts are its knowledge base.")
    return sum(kept) / len(kept)


def sample(items: Sequence, n: int | None, seed: int = 0) -> list:
    """`n` items drawn without replacement (all of them, in order, when `n` is None or too large)."""
    items = list(items)
    if n is None or n >= len(items):
        return items
    return random.Random(seed).sample(items, n)


# ---------------------------------------------------------------- fine-tuning one copy
def _finetune(base, tokenizer, examples: Sequence[dict], *, method: str, lr: float, steps: int, r: int, alpha: int,
              targets: Sequence[str], dropout: float, batch_size: int, seed: int,
              callback: Callable[[object, int, float], None] | None, progress: bool) -> train.TrainResult:
    """Train a deep copy of `base` (never `base` itself); `callback(model, step, loss)` after each step."""
    if method not in METHODS:
        raise ConcernsError(f"method must be one of {METHODS}, not {method!r}.")
    model = copy.deepcopy(base)
    hook = None if callback is None else (lambda step, loss: callback(model, step, loss))
    if method == "full":
        return train.train_full(model, tokenizer, examples, steps=steps, lr=lr, batch_size=batch_size, seed=seed,
                                callback=hook, progress=progress)
    # peft injects the adapter into `model`'s own modules, so `model(...)` in the callback runs base + LoRA
    return train.train_lora(model, tokenizer, examples, r=r, alpha=alpha, target_modules=tuple(targets),
                            dropout=dropout, steps=steps, lr=lr, batch_size=batch_size, seed=seed, callback=hook,
                            progress=progress)


# ---------------------------------------------------------------- overfitting
@dataclass
class Curve:
    """Losses and exact match of one training run, measured every `eval_every` steps (step 0: before training)."""

    label: str
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # over the whole training set, eval mode
    val_loss: list[float] = field(default_factory=list)
    test_exact: list[float] = field(default_factory=list)  # exact match on held-out test entities
    train_exact: list[float] = field(default_factory=list)  # exact match on the training pairs themselves
    n_train: int = 0
    seconds: float = 0.0

    @property
    def best(self) -> int:
        """Index of the lowest validation loss (where early stopping would stop)."""
        return min(range(len(self.val_loss)), key=self.val_loss.__getitem__)

    @property
    def best_step(self) -> int:
        return self.steps[self.best]

    @property
    def rise(self) -> float:
        """Validation loss at the end minus its minimum (> 0: it turned up again)."""
        return self.val_loss[-1] - self.val_loss[self.best]

    def row(self) -> dict[str, object]:
        b = self.best
        return {
            "run": self.label, "train examples": self.n_train, "steps": self.steps[-1],
            "final train loss": round(self.train_loss[-1], 3), "min val loss": round(self.val_loss[b], 3),
            "at step": self.steps[b], "final val loss": round(self.val_loss[-1], 3),
            "test EM at min": round(self.test_exact[b], 3), "test EM final": round(self.test_exact[-1], 3),
            "train EM final": round(self.train_exact[-1], 3),
        }


def overfit_run(
    base, tokenizer, train_examples: Sequence[dict], val_examples: Sequence[dict], test_examples: Sequence[dict], *,
    method: str = "full", lr: float = 3e-4, steps: int = 200, eval_every: int = 20, r: int = 8, alpha: int = 16,
    targets: Sequence[str] = ("q_proj", "v_proj"), dropout: float = 0.0, batch_size: int = 8, seed: int = 0,
    label: str | None = None, n_train_eval: int = 32, progress: bool = True,
) -> Curve:
    """Fine-tune a copy of `base` on `train_examples` for `steps` steps, measuring a `Curve` every `eval_every`.

    Training loss and exact match are measured on (a fixed sample of at most `n_train_eval` of) the training
    examples. With a few dozen examples and many epochs the training loss goes towards 0 while the validation
    loss reaches a minimum and rises again: the model memorises its training pairs.
    """
    if eval_every < 1 or steps < eval_every:
        raise ConcernsError(f"need 1 <= eval_every <= steps (got eval_every={eval_every}, steps={steps}).")
    if not (train_examples and val_examples and test_examples):
        raise ConcernsError("train, validation and test examples must all be non-empty.")
    if label is None:
        label = RunSpec(method, lr, r, tuple(targets)).label + (f" dropout={dropout:g}" if dropout else "")
    curve = Curve(label, n_train=len(train_examples))

    seen = sample(train_examples, n_train_eval, seed)

    def measure(model, step: int) -> None:
        curve.steps.append(step)
        curve.train_loss.append(sft_loss(model, tokenizer, seen))
        curve.val_loss.append(sft_loss(model, tokenizer, val_examples))
        curve.test_exact.append(train.exact_match(model, tokenizer, test_examples))
        curve.train_exact.append(train.exact_match(model, tokenizer, seen))

    measure(base, 0)

    def callback(model, step: int, loss: float) -> None:
        if (step + 1) % eval_every == 0:
            measure(model, step + 1)

    result = _finetune(base, tokenizer, train_examples, method=method, lr=lr, steps=steps, r=r, alpha=alpha,
                       targets=targets, dropout=dropout, batch_size=batch_size, seed=seed, callback=callback,
                       progress=progress)
    curve.seconds = result.seconds
    return curve


# ---------------------------------------------------------------- forgetting
@dataclass(frozen=True)
class RunSpec:
    """One fine-tuning run of a sweep."""

    method: str
    lr: float
    r: int = 8
    targets: tuple[str, ...] = ("q_proj", "v_proj")

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConcernsError(f"method must be one of {METHODS}, not {self.method!r}.")
        if self.lr <= 0:
            raise ConcernsError(f"learning rate must be positive, not {self.lr!r}.")

    @property
    def label(self) -> str:
        if self.method == "full":
            return f"full lr={self.lr:g}"
        where = "all-linear" if len(self.targets) == 7 else "/".join(t.removesuffix("_proj") for t in self.targets)
        return f"LoRA r={self.r} {where} lr={self.lr:g}"


@dataclass
class Baseline:
    """The base model before any fine-tuning."""

    known: list[bool]
    probe: float  # share of probe facts known
    new_task: float  # exact match on held-out test entities (zero-shot, SFT prompt format)
    perplexity: float


@dataclass
class RunResult:
    """What one run learned and what it kept."""

    spec: RunSpec
    new_task: float  # exact match on held-out test entities
    train_exact: float  # exact match on (a sample of) the training pairs
    probe: float  # share of probe facts known after
    retention: float  # share of the facts known before that are still known
    perplexity: float  # on held-out pretraining-style text
    weight_change: float  # ||W - W0|| / ||W0|| after merging
    trainable: int
    steps: int
    seconds: float
    final_loss: float

    def row(self, baseline: Baseline | None = None) -> dict[str, object]:
        row = {
            "run": self.spec.label, "trainable": self.trainable, "new task EM": round(self.new_task, 3),
            "train EM": round(self.train_exact, 3), "retention": round(self.retention, 3),
            "perplexity": round(self.perplexity, 2), "weight change": f"{self.weight_change:.2e}",
            "seconds": round(self.seconds, 1),
        }
        if baseline is not None:
            row["ppl x base"] = round(self.perplexity / baseline.perplexity, 2)
        return row


def measure_baseline(base, tokenizer, facts: Sequence[data.Fact], test_examples: Sequence[dict],
                     texts: Sequence[str]) -> Baseline:
    """Probe, held-out new-task exact match and perplexity of the untouched base model."""
    known = known_facts(base, tokenizer, facts)
    return Baseline(known, sum(known) / len(known), train.exact_match(base, tokenizer, test_examples),
                    perplexity(base, tokenizer, texts))


def finetune_and_measure(
    base, tokenizer, spec: RunSpec, train_examples: Sequence[dict], test_examples: Sequence[dict],
    facts: Sequence[data.Fact], texts: Sequence[str], baseline: Baseline, *, steps: int = 150, batch_size: int = 16,
    alpha: int = 16, seed: int = 0, n_train_eval: int = 32, progress: bool = False,
) -> RunResult:
    """Fine-tune a copy of `base` as `spec` says, merge any adapter, then measure learning and forgetting."""
    before = snapshot(base)
    result = _finetune(base, tokenizer, train_examples, method=spec.method, lr=spec.lr, steps=steps, r=spec.r,
                       alpha=alpha, targets=spec.targets, dropout=0.0, batch_size=batch_size, seed=seed,
                       callback=None, progress=progress)
    model = result.model.merge_and_unload() if spec.method == "lora" else result.model
    after = known_facts(model, tokenizer, facts)
    return RunResult(
        spec=spec,
        new_task=train.exact_match(model, tokenizer, test_examples),
        train_exact=train.exact_match(model, tokenizer, sample(train_examples, n_train_eval, seed)),
        probe=sum(after) / len(after),
        retention=retention(baseline.known, after),
        perplexity=perplexity(model, tokenizer, texts),
        weight_change=weight_change(before, model),
        trainable=result.trainable_parameters,
        steps=result.steps,
        seconds=result.seconds,
        final_loss=sum(result.losses[-10:]) / len(result.losses[-10:]),
    )


def forgetting_sweep(
    base, tokenizer, specs: Sequence[RunSpec], train_examples: Sequence[dict], test_examples: Sequence[dict],
    facts: Sequence[data.Fact], texts: Sequence[str], *, steps: int = 150, batch_size: int = 16, seed: int = 0,
    progress: bool = True,
) -> tuple[Baseline, list[RunResult]]:
    """Measure the base model, then fine-tune and measure one fresh copy per spec (same data, steps and seed)."""
    from tqdm.auto import tqdm

    if not specs:
        raise ConcernsError("Pass at least one RunSpec, e.g. RunSpec('lora', 1e-3).")
    baseline = measure_baseline(base, tokenizer, facts, test_examples, texts)
    results = []
    for spec in tqdm(specs, desc="forgetting sweep", disable=not progress):
        results.append(finetune_and_measure(base, tokenizer, spec, train_examples, test_examples, facts, texts,
                                            baseline, steps=steps, batch_size=batch_size, seed=seed))
    return baseline, results


def worst_retention(results: Iterable[RunResult], method: str) -> float:
    """Lowest retention among the runs of one method ("full" or "lora")."""
    values = [r.retention for r in results if r.spec.method == method]
    if not values:
        raise ConcernsError(f"The sweep has no {method!r} run.")
    return min(values)


# ---------------------------------------------------------------- notebook sizes
@dataclass(frozen=True)
class Sizes:
    """How big each experiment of notebook 03 is; `SIZES['quick']` is what CI and the tests run."""

    mem_batch: int
    mem_seq_len: int
    mem_steps: int
    mem_reference: bool  # also measure a random-weight SmolLM2-135M-shaped model
    overfit_train: int  # training examples of the overfitting run
    overfit_more: int  # training examples of the "more data" run
    overfit_steps: int
    overfit_batch: int
    eval_every: int
    n_val: int
    n_test: int
    sweep: tuple[RunSpec, ...]
    sweep_steps: int
    sweep_batch: int
    sweep_train: int | None  # None: the whole train split
    n_facts: int | None  # None: every probe fact
    n_texts: int


_LORA_QV = ("q_proj", "v_proj")
SIZES: dict[str, Sizes] = {
    "quick": Sizes(
        mem_batch=4, mem_seq_len=64, mem_steps=2, mem_reference=False,
        overfit_train=32, overfit_more=256, overfit_steps=36, overfit_batch=4, eval_every=12, n_val=32, n_test=32,
        sweep=(RunSpec("full", 1e-4), RunSpec("full", 1e-3), RunSpec("lora", 1e-3)),
        sweep_steps=30, sweep_batch=8, sweep_train=None, n_facts=160, n_texts=16,
    ),
    "standard": Sizes(
        mem_batch=8, mem_seq_len=128, mem_steps=3, mem_reference=False,
        overfit_train=32, overfit_more=256, overfit_steps=120, overfit_batch=8, eval_every=12, n_val=85, n_test=64,
        sweep=(RunSpec("full", 1e-4), RunSpec("full", 3e-4), RunSpec("full", 1e-3),
               RunSpec("lora", 3e-4), RunSpec("lora", 1e-3), RunSpec("lora", 3e-3),
               RunSpec("lora", 1e-3, r=32), RunSpec("lora", 1e-3, targets=ALL_LINEAR)),
        sweep_steps=100, sweep_batch=16, sweep_train=None, n_facts=None, n_texts=48,
    ),
    "full": Sizes(
        mem_batch=8, mem_seq_len=128, mem_steps=3, mem_reference=True,
        overfit_train=32, overfit_more=256, overfit_steps=600, overfit_batch=8, eval_every=25, n_val=85, n_test=169,
        sweep=(RunSpec("full", 1e-5), RunSpec("full", 3e-5), RunSpec("full", 1e-4), RunSpec("full", 3e-4),
               RunSpec("full", 1e-3), RunSpec("full", 3e-3), RunSpec("lora", 1e-4), RunSpec("lora", 3e-4),
               RunSpec("lora", 1e-3), RunSpec("lora", 3e-3), RunSpec("lora", 1e-3, r=2),
               RunSpec("lora", 1e-3, r=32), RunSpec("lora", 1e-3, r=128), RunSpec("lora", 1e-3, targets=ALL_LINEAR),
               RunSpec("lora", 3e-3, targets=ALL_LINEAR)),
        sweep_steps=400, sweep_batch=16, sweep_train=None, n_facts=None, n_texts=128,
    ),
}


def sizes(quick: bool, full: bool = False) -> Sizes:
    """The notebook's sizes: `quick` wins (CI), then `full` (longer, sharper), else the standard run."""
    return SIZES["quick" if quick else "full" if full else "standard"]
