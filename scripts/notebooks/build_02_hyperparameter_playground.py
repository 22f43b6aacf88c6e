"""Build notebooks/02_hyperparameter_playground.ipynb: r, α, target modules and memory, by hand and with widgets."""

from pathlib import Path

from lorajam.course import REPO_ROOT, code, header_cells, md, write_notebook

RELPATH = "notebooks/02_hyperparameter_playground.ipynb"
PLAYGROUND_TAG = "playground"  # tests/test_playground_browser.py looks for the widget output of this cell

PARAMETERS = """\
QUICK = False  # True in CI: fewer training steps
MODEL = "auto"  # only sets device and precision here: the experiments train the bundled jam-tiny
SEED = 0
PRESET = "SmolLM2-135M"  # the architecture whose budget we read; see budget.preset_names()
RANK = 8  # LoRA rank r
ALPHA = 16  # LoRA alpha: the update is scaled by ALPHA / RANK
BATCH, SEQ_LEN = 8, 256  # for memory estimates
TRAIN_STEPS = 60  # LoRA steps per training run of jam-tiny
DELTA_STEPS = 30  # full fine-tuning steps whose weight update ΔW the low-rank panel takes apart
"""

IMPORTS = """\
import copy

import matplotlib.pyplot as plt
import torch

from lorajam import budget, data, models, train
from lorajam.playground import Playground, finetune_delta_w

BATCH_SIZE = 16  # examples per training step of jam-tiny
if QUICK:  # a headless CI run: same lessons, fewer and smaller steps
    TRAIN_STEPS, DELTA_STEPS, BATCH_SIZE = min(TRAIN_STEPS, 10), min(DELTA_STEPS, 4), 8
    if rt.device == "cpu":  # CI shares its CPU cores: with one thread torch never waits for a busy core
        torch.set_num_threads(1)
GIB = 2**30
jam_tiny, tokenizer = models.load(models.JAM_TINY, device=rt.device)  # the bundled model we train below
"""

S1_MD = """\
## 1. One setting, one budget

`lorajam.budget` turns a model's shapes (from its published config) and your LoRA settings into numbers:
how many parameters LoRA trains, what share of the model that is, how big the adapter file is, the scale α/r,
and the training memory of full fine-tuning, LoRA and QLoRA (Dettmers et al. 2023: the frozen base in 4 bits).
"""

S1_CODE = """\
b = budget.budget(PRESET, r=RANK, alpha=ALPHA, targets=("q_proj", "v_proj"), batch=BATCH, seq_len=SEQ_LEN,
                  precision="fp16")
for label, value in b.rows():
    print(f"{label:22} {value:>18}")
"""

S1_AFTER = """\
LoRA trains well under 1% of the parameters. Memory is split into **weights**, **gradients**, **optimizer
state** (AdamW keeps two numbers per trainable parameter) and **activations** (what the forward pass keeps for
the backward pass). Here is the split for each method:
"""

S1_PARTS = """\
print(f"{'method':7} {'weights':>9} {'grads':>9} {'optimizer':>10} {'activations':>12} {'peak':>9}   (GiB)")
for method, est in b.memory.items():
    p = {k: v / GIB for k, v in est.parts().items()}
    print(f"{method:7} {p['weights']:9.2f} {p['gradients']:9.2f} {p['optimizer']:10.2f} {p['activations']:12.2f}"
          f" {est.peak / GIB:9.2f}")
"""

S1_PARTS_AFTER = """\
Full fine-tuning pays gradients and optimizer state for *every* weight; LoRA pays them only for the adapter,
so its memory is the frozen weights plus the activations.

The peak is not the plain sum of the columns. Gradients appear while activations are freed during the backward
pass (that makes it lower), but the loss briefly needs buffers the size of the logits, batch × sequence ×
vocabulary numbers in fp32 (that makes it higher). With a 49,152-token vocabulary those are big:
"""

S1_LOGITS = """\
arch = budget.preset(PRESET)
logits = BATCH * SEQ_LEN * arch.vocab * 4
print(f"one fp32 logits tensor: {BATCH} x {SEQ_LEN} x {arch.vocab:,} x 4 bytes = {logits / GIB:.2f} GiB")
print(f"LoRA peak minus the plain sum: {(b.memory['lora'].peak - b.memory['lora'].total) / GIB:+.2f} GiB")
"""

S1_LOGITS_AFTER = """\
Halving the sequence length or the batch halves that part. (Estimates are checked against measured peak memory
in `benchmarks/playground.py`; notebook 03 measures it on your machine.)
"""

S2_MD = """\
## 2. Experiment: double r

**Question:** if you double r from 8 to 16, what happens to the number of trainable parameters? To memory?

**Expect:** each adapted matrix gets A (r × d_in) and B (d_out × r), so parameters are *exactly* proportional
to r: they double. Memory barely moves, because it is dominated by the frozen weights and the activations.
"""

S2_CODE = """\
small = budget.budget(PRESET, r=RANK, alpha=ALPHA, batch=BATCH, seq_len=SEQ_LEN, precision="fp16")
large = budget.budget(PRESET, r=2 * RANK, alpha=ALPHA, batch=BATCH, seq_len=SEQ_LEN, precision="fp16")
print(f"trainable: {small.trainable:,} -> {large.trainable:,} ({large.trainable / small.trainable:.2f}x)")
for method in ("lora", "qlora"):
    before, after = small.memory[method].peak, large.memory[method].peak
    print(f"{method} peak memory: {before / GIB:.3f} -> {after / GIB:.3f} GiB (+{100 * (after / before - 1):.2f}%)")
assert large.trainable == 2 * small.trainable
assert large.memory["lora"].peak < 1.05 * small.memory["lora"].peak
"""

S2_AFTER = """\
Doubling r doubles the adapter (and its file on disk) but changes memory by a fraction of a percent. Rank is
about *capacity*, not about fitting on the GPU. Common mistake: changing r and forgetting that α/r changes too
(next section).
"""

S3_MD = """\
## 3. Experiment: keep α/r fixed while changing r

The update is added as W' = W + (α/r)·BA (Hu et al. 2021). Doubling r with α fixed halves the scale; many
recipes therefore set α = 2r, which keeps α/r = 2. rsLoRA (Kalajdzievski 2023) argues for α/√r instead.
"""

S3_TABLE = """\
print(f"{'r':>4} {'alpha':>6} {'alpha/r':>8} {'alpha/sqrt(r)':>14}")
for r in (4, 8, 16, 32, 64):
    print(f"{r:>4} {2 * r:>6} {budget.scaling(r, 2 * r):>8g} {budget.scaling(r, 2 * r, rslora=True):>14.3g}")
"""

S3_TRAIN_MD = """\
Now train the bundled `jam-tiny` on its instruction data, three times for the same number of steps:

| run | r | α | α/r |
| --- | --- | --- | --- |
| A | 4 | 8 | 2 |
| B | 16 | 32 | 2 |
| C | 16 | 8 | 0.5 |

**Expect:** C learns more slowly than B: same rank, but a four times smaller scale, like a smaller learning
rate for the adapter. And A against B, same α/r but four times the rank? Predict, then look.
"""

S3_TRAIN = """\
examples = data.instruction_examples("train")
curves = {}
for label, r, alpha in [("A: r=4, α=8", 4, 8), ("B: r=16, α=32", 16, 32), ("C: r=16, α=8", 16, 8)]:
    model = copy.deepcopy(jam_tiny)  # a fresh copy of the base model for every run
    result = train.train_lora(model, tokenizer, examples, r=r, alpha=alpha, target_modules=["q_proj", "v_proj"],
                              steps=TRAIN_STEPS, batch_size=BATCH_SIZE, seed=SEED, progress=False)
    curves[label] = result.losses

fig, ax = plt.subplots(figsize=(6, 3))
for label, losses in curves.items():
    ax.plot(losses, label=label)
ax.set_xlabel("step"), ax.set_ylabel("training loss"), ax.legend()
plt.show()
tail = {label[0]: sum(losses[-3:]) / 3 for label, losses in curves.items()}
for label, value in tail.items():
    print(f"run {label}: mean loss of the last 3 steps {value:.3f}")
print(f"C ends above B (smaller α/r learns slower): {tail['C'] > tail['B']}")
print(f"A vs B (same α/r, 4x rank): loss {tail['A']:.3f} vs {tail['B']:.3f}")
"""

S3_AFTER = """\
Lowering α/r acts like lowering the adapter's learning rate: that is why α has to move with r. Keeping α/r fixed
keeps the scale of each direction the same, but with Adam every one of the r directions takes its own full-size
step, so a larger rank at the same α/r often learns *faster* in the first steps. That observation is behind
rsLoRA's α/√r (Kalajdzievski 2023). Rule of thumb: pick r, set α = 2r, then tune the learning rate.
"""

S4_MD = """\
## 4. Experiment: why skip K?

The deck says "usually Q and V, often skip K". Two reasons, both checkable:
1. **Cost.** In the LoRA paper (Hu et al. 2021, Table 5), for the same parameter budget on GPT-3, adapting W_q
   and W_v together beat W_q and W_k. Keys mostly decide *where* to attend; values carry *what* is read.
2. **Shapes.** With grouped-query attention (GQA) K and V are narrower than Q. Let us count:
"""

S4_CODE = """\
arch = budget.preset(PRESET)
print(f"{arch.name}: {arch.n_heads} query heads, {arch.n_kv_heads} key/value heads of {arch.hd}")
for name, (d_in, d_out) in budget.module_shapes(arch).items():
    per = budget.lora_params_per_module(arch, RANK)[name]
    print(f"{name:10} {d_in:>6} -> {d_out:<6} LoRA r={RANK}: {per * arch.n_layers:>10,} parameters")
qv = budget.lora_params(arch, RANK, ["q_proj", "v_proj"])
qkv = budget.lora_params(arch, RANK, ["q_proj", "k_proj", "v_proj"])
print(f"adding K to Q+V costs {100 * (qkv / qv - 1):.0f}% more adapter parameters")
try:
    budget.lora_params(arch, RANK, ["query", "value"])  # common mistake: names from another model family
except budget.BudgetError as err:
    print("wrong names ->", err)
"""

S4_AFTER = """\
Adding K is cheap here, so the reason to skip it is not memory but value for money: the budget is better spent on
V, O or the MLP. Wrong module names are a classic mistake: peft then either fails or adapts nothing you meant.
"""

S5_MD = """\
## 5. Experiment: which preset fits a T4 with full fine-tuning?

A free Colab T4 has 16 GB (about 15 GiB usable) and **no bf16**: use fp16 there (bf16 on a T4 is emulated and
slow, a common mistake). **Expect:** only the presets below a billion parameters fit with full fine-tuning; LoRA
and QLoRA reach much further. Check with fp16, batch 8 and 256 tokens:
"""

S5_CODE = """\
t4 = budget.GPUS["T4 (16 GB)"]
print(f"{'preset':14} {'params':>9} {'full FT':>9} {'LoRA':>8} {'QLoRA':>8}   GiB at peak; * = fits a T4")
fits_full = []
for name in budget.PRESETS:
    est = {m: budget.memory(name, m, r=RANK, batch=BATCH, seq_len=SEQ_LEN, precision="fp16")
           for m in budget.METHODS}
    cells = [f"{est[m].peak / GIB:7.1f}{'*' if est[m].fits(t4) else ' '}" for m in budget.METHODS]
    print(f"{name:14} {budget.total_params(budget.preset(name)) / 1e9:8.2f}B " + " ".join(cells))
    if est["full"].fits(t4):
        fits_full.append(name)
print("fits a T4 with full fine-tuning:", ", ".join(fits_full) or "none")
assert "Llama-2-7B" not in fits_full
"""

S5_AFTER = """\
Full fine-tuning needs about 16 bytes per parameter before activations, so a T4 stops well below a billion
parameters. LoRA keeps only the frozen weights (2 bytes each in fp16), and QLoRA about half a byte: that is how a
7 B model trains on a free GPU.
"""

S6_MD = """\
## 6. The playground

Now move things with your hands. Before it starts, we make a *real* weight update for its low-rank panel: a short
full fine-tune of jam-tiny, then ΔW = W_after − W_before of one `q_proj`. The panel shows how much of ΔW the
best rank-r approximation misses (from the singular values of ΔW).
"""

S6_DELTA = """\
delta_w = finetune_delta_w(copy.deepcopy(jam_tiny), tokenizer, data.instruction_examples("train"), module="q_proj",
                           steps=DELTA_STEPS, batch_size=BATCH_SIZE, seed=SEED).cpu()
print(f"ΔW of a middle q_proj: shape {tuple(delta_w.shape)}, norm {delta_w.norm():.4f}")
"""

S6_SHOW = """\
pg = Playground(preset=PRESET, r=RANK, alpha=ALPHA, batch=BATCH, seq_len=SEQ_LEN, precision="fp16",
                delta_w=delta_w, train_steps=TRAIN_STEPS, loader=lambda: (copy.deepcopy(jam_tiny), tokenizer))
pg.show();
"""

S6_TRY = """\
Try these, and predict before you move anything:
1. Move **rank r** from 8 to 16. Trainable parameters? The LoRA memory bar? (Section 2.)
2. Set α so that α/r stays 2 while you change r. Watch the middle panel. (Section 3.)
3. Tick **k**. How much does the count grow compared with ticking **o** or **down**? (Section 4.)
4. Pick Llama-2-7B with fp16. Which bars cross the T4 line? What about batch 1? (Section 5.)
5. Press **Train** with two settings (say r = 2 and r = 32, same α/r). The curves stay on one plot: compare them
   and the before/after accuracy. A second click while a run is going is refused.

The sliders only change the *state* of `pg`; the cell below reads it, so rerun it after moving things.
"""

S6_READ = """\
s = pg.state
print(f"{s.arch.name}: r={s.r}, α={s.alpha}, targets={', '.join(s.targets)} -> {s.trainable:,} trainable "
      f"({100 * s.share:.3f}%), α/r={s.scale:g}, LoRA peak {s.memory['lora'].peak / GIB:.2f} GiB")
assert s.trainable == budget.lora_params(s.arch, s.r, s.targets)
"""

WRAP_UP = """\
## Wrap-up

- Parameters grow exactly with r; memory hardly does. Memory is frozen weights + activations for LoRA, and
  ~16 bytes per parameter + activations for full fine-tuning.
- α/r sets the strength of the update: keep it fixed (e.g. α = 2r) when you change r.
- Choose target modules by value, and check their names (`budget.check_targets` or the model's module list).
- On a T4 use fp16, not bf16; a 7 B model needs LoRA on a 4-bit base (QLoRA).

Estimates come from `lorajam.budget`; `benchmarks/playground.py` compares them with measured peak memory.
"""


def build(path: Path = REPO_ROOT / RELPATH) -> Path:
    cells = [
        *header_cells(
            RELPATH,
            "02 · Hyperparameter playground: rank, alpha, target modules and memory",
            [
                "predict what rank r does to trainable parameters and to memory, then check",
                "keep α/r fixed while changing r, and see why it matters in training",
                "choose target modules (why skip K?) and spot wrong module names",
                "read a memory budget (weights, gradients, optimizer state, activations) and decide what fits a T4",
                "train jam-tiny with your own settings in a widget playground and compare runs",
            ],
            PARAMETERS,
        ),
        code(IMPORTS),
        md(S1_MD),
        code(S1_CODE),
        md(S1_AFTER),
        code(S1_PARTS),
        md(S1_PARTS_AFTER),
        code(S1_LOGITS),
        md(S1_LOGITS_AFTER),
        md(S2_MD),
        code(S2_CODE),
        md(S2_AFTER),
        md(S3_MD),
        code(S3_TABLE),
        md(S3_TRAIN_MD),
        code(S3_TRAIN),
        md(S3_AFTER),
        md(S4_MD),
        code(S4_CODE),
        md(S4_AFTER),
        md(S5_MD),
        code(S5_CODE),
        md(S5_AFTER),
        md(S6_MD),
        code(S6_DELTA),
        code(S6_SHOW, tags=(PLAYGROUND_TAG,)),
        md(S6_TRY),
        code(S6_READ),
        md(WRAP_UP),
    ]
    return write_notebook(path, cells)


if __name__ == "__main__":
    print(build())
