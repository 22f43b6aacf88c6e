"""Build notebooks/03_finetuning_concerns.ipynb: compute cost, overfitting and catastrophic forgetting, measured."""

from pathlib import Path

from lorajam.course import REPO_ROOT, code, header_cells, md, write_notebook

RELPATH = "notebooks/03_finetuning_concerns.ipynb"

PARAMETERS = """\
QUICK = False  # True in CI: every experiment shrunk to about a minute on a laptop CPU (same plots, blunter effects)
MODEL = "auto"  # "auto", "jam-tiny", or a Hub id such as "HuggingFaceTB/SmolLM2-135M"
SEED = 0
FULL = False  # True: longer runs and a wider sweep (sharper effects; tens of minutes on CPU, a few on a GPU)
"""

INTRO = """\
The deck lists three concerns with fine-tuning: **high computational cost**, **overfitting** on small data sets,
and **catastrophic forgetting** of what the model learned in pretraining. Here you measure each one on your own
machine, full fine-tuning (every weight trainable) beside LoRA.

Sizes come from the parameters above: `QUICK` (CI, about a minute), the default run (several minutes on a laptop
CPU, about a minute on a GPU), or `FULL` (longer and sharper). Every number below is computed when you run the
notebook; the text only says what to expect and the code checks it. On jam-tiny every check must hold (the
course's tests run them); on another model a check that does not hold is printed as a finding, not an error.
"""

SETUP = """\
import torch

from lorajam import concerns, data, models
from lorajam import concerns_plots as plots

S = concerns.sizes(QUICK, FULL)
STRICT = rt.model_name == "jam-tiny"  # the checks below fail loudly on jam-tiny; on other models they report
torch.manual_seed(SEED)
# fp32 on purpose, also on a GPU: full fine-tuning with pure fp16 weights loses small Adam updates to rounding
# (real runs use mixed precision, which keeps an fp32 master copy: part of the memory bill below).
model, tokenizer = models.load(rt.model_name, rt.device, torch.float32)
train_split, val_split, test_split = (data.instruction_examples(s) for s in ("train", "validation", "test"))
n_params = sum(p.numel() for p in model.parameters())
print(f"{rt.model_name}: {n_params / 1e6:.1f}M parameters, fp32, on {rt.device}")
print(f"instruction data: {len(train_split)} train / {len(val_split)} validation / {len(test_split)} test examples "
      "(test entities never appear in train or validation)")
"""

# ------------------------------------------------------------------------------------------------ 1. compute
COST_MD = """\
## 1. Compute cost

Full fine-tuning updates every weight. Training with AdamW keeps, for **each trainable parameter**, the weight,
its gradient and two optimizer moments: four numbers instead of one, before any activations. LoRA freezes the
base model and trains a small adapter, so gradients and optimizer state shrink to the adapter's size.

Published anchors (you will put the estimator next to them below):
- LoRA paper (Hu et al. 2021): on GPT-3 175B, training VRAM from **1.2 TB to 350 GB**, and **10,000x fewer
  trainable parameters**.
- QLoRA (Dettmers et al. 2023): a **65B** model fine-tuned on **one 48 GB GPU** (4-bit base model + LoRA).
- PEFT README: T0_3B needs **47.14 GB** for full fine-tuning and **14.4 GB** with LoRA.

First measure it here. Each setting runs a few AdamW steps on random token ids; the peak comes from torch's
allocator on a GPU and from the process's peak resident memory on a Linux CPU (elsewhere only time is measured).
**Expect** full fine-tuning to need clearly more memory than either LoRA setting, but less than 4x as much (the
activations are needed either way), and, on a Linux CPU, `lorajam.budget`'s estimate to land within 20% of each
measurement (on a GPU, see how close it gets).
"""

COST_MEASURE = """\
mem_rows = concerns.compare_memory(model, rt.model_name, batch=S.mem_batch, seq_len=S.mem_seq_len, steps=S.mem_steps)
if S.mem_reference and "SmolLM2-135M" not in rt.model_name:  # FULL: also a 135M model (random weights suffice)
    from lorajam import measure

    reference = measure.random_model("SmolLM2-135M").to(rt.device)
    mem_rows += concerns.compare_memory(reference, "SmolLM2-135M", batch=S.mem_batch, seq_len=S.mem_seq_len,
                                        steps=S.mem_steps)
    del reference
print(concerns.table([r.row() for r in mem_rows]))
"""

COST_CHECK = """\
for name in dict.fromkeys(r.model for r in mem_rows):
    rows = {r.setting: r for r in mem_rows if r.model == name}
    full = rows.pop("full FT")
    if full.measured_bytes is None:
        print(f"{name}: memory cannot be measured on this system ({full.how}); compare the estimates instead")
        continue
    for setting, lora_row in rows.items():
        ratio = full.measured_bytes / lora_row.measured_bytes
        print(f"{name}: full FT needs {ratio:.1f}x the memory of {setting} "
              f"({100 * lora_row.trainable / full.trainable:.2f}% of the weights trainable)")
        concerns.expect(1 < ratio < 4, f"full FT needs more memory than {setting}, but less than 4x", STRICT)
    for r in [full, *rows.values()]:
        error = r.estimate_bytes / r.measured_bytes - 1
        print(f"{name}, {r.setting}: estimate off by {error:+.0%}")
        if rt.device == "cpu":
            concerns.expect(abs(error) < 0.2, f"the {r.setting} estimate within 20% of the measurement", STRICT)
"""

COST_READ = """\
Why less than 4x? Full fine-tuning keeps four numbers per weight (weight, gradient, two AdamW moments), LoRA
about one, but both keep the activations of the forward pass for backward, and on a model this small with a
whole batch of tokens those are a large share of the bill. The gradients and optimizer moments grow with the parameter count,
activations with batch x sequence length; on a big model the four copies of every weight dominate. Compare the
`s/step` column too: LoRA skips the gradients of frozen weights and their optimizer update, but still runs the
whole forward and backward pass, and CPU timings of tiny models are noisy: rerun before you conclude.
"""

SCALE_MD = """\
Now the estimator, scaled to the models of the deck, in 16-bit precision with batch 1 x 512 tokens, LoRA r = 8 on
q/v. The horizontal lines are GPUs you know: a Colab **T4 (16 GB)**, the **48 GB** card of the QLoRA paper, and
an **A100 (80 GB)**. **Expect** full fine-tuning of every one of these models to overflow a single A100, and
QLoRA to bring LLaMA-65B under 48 GB.
"""

SCALE_CODE = """\
scaled = concerns.scaled_estimates(("Llama-2-7B", "LLaMA-65B", "GPT-3-175B"))
print(concerns.table(scaled))
fig = plots.plot_memory(mem_rows, scaled)
"""

SCALE_CHECK = """\
from lorajam import budget

gpt3 = budget.preset("GPT-3-175B")
full_tb, lora_tb = (budget.memory(gpt3, m, r=4, seq_len=512, precision="fp16").peak / 1e12 for m in ("full", "lora"))
fewer = budget.total_params(gpt3) / budget.lora_params(gpt3, r=4, targets=("q_proj", "v_proj"))
print(f"GPT-3 175B, LoRA r=4 on q/v as in the paper: {fewer:,.0f}x fewer trainable parameters (paper: 10,000x)")
print(f"GPT-3 175B estimate: full {full_tb:.2f} TB -> LoRA {lora_tb:.2f} TB, {full_tb / lora_tb:.1f}x less "
      f"(paper: 1.2 TB -> 0.35 TB, {1.2 / 0.35:.1f}x; PEFT README T0_3B: {47.14 / 14.4:.1f}x)")
llama65 = {row["model"]: row for row in scaled}["LLaMA-65B"]
print(f"LLaMA-65B estimate: QLoRA {llama65['qlora GB']} GB, LoRA {llama65['lora GB']} GB, full {llama65['full GB']} GB")
concerns.expect(all(row["full GB"] > 80 for row in scaled), "full FT of every 7B+ model overflows one 80 GB A100")
concerns.expect(llama65["qlora GB"] < 48 < llama65["lora GB"], "only QLoRA fits LLaMA-65B on a 48 GB GPU")
"""

SCALE_READ = """\
The estimator's full-FT number for GPT-3 is higher than the paper's 1.2 TB because it assumes the standard mixed
precision recipe (fp32 master weights and fp32 Adam moments, 16 bytes per parameter) and no sharding; the LoRA
side lands near the paper's 350 GB. The direction agrees; the gap is wider in the estimate because its full-FT
side counts more bytes per parameter. This is the deck's *Effect*:
full fine-tuning of a large model needs several GPUs or "gradient checkpointing hacks"; LoRA, and QLoRA with its
4-bit base model, put the same job on one card. A common mistake on Colab: choosing bf16 on a T4. It has no
native bf16 (compute capability 7.5), so use fp16 there (`lorajam.runtime` picks it for you).
"""

# ------------------------------------------------------------------------------------------------ 2. overfitting
OVERFIT_MD = """\
## 2. Overfitting

*Large models are very expressive; full fine-tuning on small data sets can easily overfit.* To see it, fine-tune
every weight at a learning rate on the high side for full fine-tuning (1e-3) on only **{n} training examples**
for many epochs (a few examples per step, so one epoch is a handful of steps). Every few steps
measure three things: the loss on those training examples, the loss on held-out **validation** examples, and
exact match on held-out **test** entities (countries, animals, words the training set never mentions).

**Expect** the training loss to fall to a small fraction of where it started, and the validation loss to reach a
minimum early and then **rise** again: the model memorises its training pairs instead of learning the task.
"""

OVERFIT_RUN = """\
small = concerns.sample(train_split, S.overfit_train, SEED)
val = concerns.sample(val_split, S.n_val, SEED)
test = concerns.sample(test_split, S.n_test, SEED)
run = dict(steps=S.overfit_steps, eval_every=S.eval_every, batch_size=S.overfit_batch, seed=SEED)
curves = [concerns.overfit_run(model, tokenizer, small, val, test, method="full", lr=1e-3, **run,
                               label=f"full FT lr=1e-3, {len(small)} examples")]
print(concerns.table([c.row() for c in curves]))
fig = plots.plot_curves(curves)
"""

OVERFIT_CHECK = """\
c = curves[0]
print(f"training loss {c.train_loss[0]:.2f} -> {c.train_loss[-1]:.3f}; validation loss lowest at step {c.best_step} "
      f"({c.val_loss[c.best]:.2f}), {c.val_loss[-1]:.2f} at the end")
print(f"exact match at the end: {c.train_exact[-1]:.0%} on its {c.n_train} training pairs, "
      f"{c.test_exact[-1]:.0%} on unseen test entities")
concerns.expect(c.train_loss[-1] < 0.2 * c.train_loss[0], "the training loss collapses", STRICT)
concerns.expect(c.rise > 0 and c.best_step < c.steps[-1], "the validation loss rises after its minimum", STRICT)
"""

OVERFIT_READ = """\
The dot marks the lowest validation loss. Past it the model keeps growing more confident on its 32 pairs while
its loss on entities it has not been shown climbs: it memorises pairs instead of learning the task. The training loss
alone would have told you the run was going beautifully: always watch a held-out set.
"""

HELPS_MD = """\
### What helps

Standard remedies, on the same plot:
- **stop early**: keep the checkpoint at the validation minimum (the dot), no extra run needed;
- **a lower learning rate**: 3e-4 on the same {n} examples;
- **more data**: {more} examples instead of {n}, at that lower learning rate;
- **fewer trainable parameters**: LoRA (r = 8 on q/v) on the same {n} examples (not in `QUICK` mode);
- **dropout** on the LoRA branch (0.1) with a smaller rank (r = 2) (not in `QUICK` mode).

**Expect** the validation loss at the lower learning rate to climb less by the end than at 1e-3, and more data to
reach a lower validation loss than {n} examples at the same learning rate.
"""

HELPS_RUN = """\
more = concerns.sample(train_split, S.overfit_more, SEED)
curves.append(concerns.overfit_run(model, tokenizer, small, val, test, method="full", lr=3e-4, **run,
                                   label=f"full FT lr=3e-4, {len(small)} examples"))
curves.append(concerns.overfit_run(model, tokenizer, more, val, test, method="full", lr=3e-4, **run,
                                   label=f"full FT lr=3e-4, {len(more)} examples"))
if not QUICK:
    curves.append(concerns.overfit_run(model, tokenizer, small, val, test, method="lora", lr=1e-3, r=8, **run,
                                       label=f"LoRA r=8, {len(small)} examples"))
    curves.append(concerns.overfit_run(model, tokenizer, small, val, test, method="lora", lr=1e-3, r=2, dropout=0.1,
                                       **run, label=f"LoRA r=2 dropout 0.1, {len(small)} examples"))
print(concerns.table([c.row() for c in curves]))
fig = plots.plot_curves(curves)
"""

HELPS_CHECK = """\
high, low, many = curves[0], curves[1], curves[2]
print(f"validation loss climbs {high.rise:.2f} after its minimum at lr=1e-3, {low.rise:.2f} at lr=3e-4")
print(f"lowest validation loss at lr=3e-4: {low.val_loss[low.best]:.2f} with {low.n_train} examples, "
      f"{many.val_loss[many.best]:.2f} with {many.n_train}")
concerns.expect(low.rise < high.rise, "the lower learning rate overfits less", STRICT)
concerns.expect(many.val_loss[many.best] < low.val_loss[low.best], "more data reaches a lower validation loss", STRICT)
"""

HELPS_READ = """\
Read the table row by row: where does each run's validation loss bottom out, how far does it climb by the end,
and how far apart are its `train EM` and `test EM`? Early stopping needs nothing but a validation set and a
checkpoint every few steps (with the Hugging Face `Trainer`: `load_best_model_at_end=True`). In the default and
`FULL` runs, compare the LoRA curves with the full fine-tuning curve on the same 32 examples yourself: fewer
trainable parameters and dropout change how fast a model can memorise, and your plot shows by how much.
"""

# ------------------------------------------------------------------------------------------------ 3. forgetting
FORGET_MD = """\
## 3. Catastrophic forgetting

*Updating all weights can make the model forget what it learned during pretraining.* Measure it: fine-tune the
same base model on the instruction task with full fine-tuning and with LoRA, sweeping the learning rate (and for
LoRA the rank and the target modules), and for every run measure
- **new task**: exact match on held-out test entities (did it learn the task, or only its training pairs?),
- **retention**: of the facts the base model completes correctly ("The capital of Peru is" -> " Lima"), the share
  it still completes after fine-tuning,
- **perplexity** on held-out pretraining-style text (lower is better; the base model's value is the reference),
- **weight change**: how far the weights moved, `||W - W0|| / ||W0||` (a LoRA adapter is merged first).

Each run starts from the same base weights, with the same data, steps and seed. This is the question of Biderman et
al. 2024, *LoRA Learns Less and Forgets Less*: they found LoRA forgets less than full fine-tuning, but also
learns less of a new domain. Check whether your sweep agrees.
"""

FORGET_RUN = """\
facts = concerns.sample(data.probe_facts(), S.n_facts, SEED)
texts = concerns.heldout_texts(S.n_texts)
sweep_train = concerns.sample(train_split, S.sweep_train, SEED)
baseline, results = concerns.forgetting_sweep(model, tokenizer, S.sweep, sweep_train, test, facts, texts,
                                              steps=S.sweep_steps, batch_size=S.sweep_batch, seed=SEED)
print(f"base model: knows {baseline.probe:.0%} of {len(facts)} probe facts, {baseline.new_task:.0%} exact match on "
      f"the new task (zero-shot), perplexity {baseline.perplexity:.2f}")
print(concerns.table([r.row(baseline) for r in results]))
"""

FORGET_PLOT_MD = """\
One point per run: new-task accuracy across, retention up. The top right corner is what everybody wants.
**Expect** the worst full fine-tuning run to forget more (lower retention) than the worst LoRA run.
"""

FORGET_PLOT = """\
fig = plots.plot_tradeoff(baseline, results)
"""

FORGET_CHECK = """\
worst_full, worst_lora = concerns.worst_retention(results, "full"), concerns.worst_retention(results, "lora")
print(f"worst retention: full fine-tuning {worst_full:.0%}, LoRA {worst_lora:.0%}")
concerns.expect(worst_full < worst_lora, "the worst full FT run forgets more than the worst LoRA run", STRICT)
"""

MOVE_MD = """\
Why? Look at the right panel and the `weight change` column. **Expect**, at the same learning rate, LoRA to move
the weights less than full fine-tuning and to keep at least as much; and full fine-tuning at its highest learning
rate to move the weights further, and forget more, than at its lowest.
"""

MOVE_CHECK = """\
def runs(method, lr):
    return [r for r in results if r.spec.method == method and r.spec.lr == lr]


full_lrs = sorted({r.spec.lr for r in results if r.spec.method == "full"})
for lr in full_lrs:
    for lora_run in runs("lora", lr):
        full_run = runs("full", lr)[0]
        print(f"lr={lr:g}: full FT moved {full_run.weight_change:.3f}, kept {full_run.retention:.0%}; "
              f"{lora_run.spec.label} moved {lora_run.weight_change:.3f}, kept {lora_run.retention:.0%}")
        concerns.expect(lora_run.weight_change < full_run.weight_change, "LoRA moves the weights less", STRICT)
        concerns.expect(lora_run.retention >= full_run.retention, "LoRA keeps at least as much", STRICT)
low, high = runs("full", full_lrs[0])[0], runs("full", full_lrs[-1])[0]
print(f"full FT: lr={low.spec.lr:g} moved {low.weight_change:.3f} and kept {low.retention:.0%}; "
      f"lr={high.spec.lr:g} moved {high.weight_change:.3f} and kept {high.retention:.0%}")
concerns.expect(high.weight_change > low.weight_change and high.retention < low.retention,
                "full FT at the higher learning rate moves the weights further and forgets more", STRICT)
"""

FORGET_READ = """\
Read the sweep as a whole, not one point. For full fine-tuning the learning rate sets how far the weights move
and, with it, how much the model forgets. LoRA's low-rank update moves the weights less at the same learning rate: that is why it tends
to forget less and also why it can learn less (Biderman et al. 2024). Compare `train EM` with `new task EM` in
the table: a run can score well on its own training pairs and still fail on unseen entities. And less forgetting
is not none: push a LoRA run's learning rate up (exercise below) and watch its retention. Always measure
retention on what you care about keeping.
"""

CLOSING_MD = """\
## Closing note: the measured tables

Everything above in one place, as measured by this run (rerun with `FULL = True` for sharper numbers):
"""

CLOSING = """\
print(rt.banner())
print("\\n1. Compute cost (measured here; estimates from lorajam.budget)")
print(concerns.table([r.row() for r in mem_rows]))
print("\\n   Scaled estimates (fp16, batch 1 x 512 tokens, LoRA r=8 on q/v)")
print(concerns.table(scaled))
print("\\n2. Overfitting")
print(concerns.table([c.row() for c in curves]))
print(f"\\n3. Forgetting (base model: probe {baseline.probe:.0%}, new task {baseline.new_task:.0%}, "
      f"perplexity {baseline.perplexity:.2f})")
print(concerns.table([r.row(baseline) for r in results]))
"""

EXERCISES = """\
### Try it yourself
- One more point for the trade-off plot: `extra = concerns.finetune_and_measure(model, tokenizer,
  concerns.RunSpec("lora", 1e-2), sweep_train, test, facts, texts, baseline, steps=S.sweep_steps,
  batch_size=S.sweep_batch)`, then `plots.plot_tradeoff(baseline, results + [extra])`. Try
  `concerns.RunSpec("lora", 1e-3, r=64)` and `concerns.RunSpec("full", 3e-5)` too.
- Change the overfitting run's learning rate: does the validation minimum move earlier or later?
- A common mistake with LoRA: a wrong target-module name. Run the same call with
  `concerns.RunSpec("lora", 1e-3, targets=("query",))`: it fails with the list of the model's real linear layer
  names (`q_proj`, `v_proj`, ...).
"""


def build(path: Path = REPO_ROOT / RELPATH) -> Path:
    cells = header_cells(
        RELPATH,
        "Concerns with fine-tuning, measured",
        [
            "measure the memory of full fine-tuning and LoRA, and scale the estimate to 7B, 65B and 175B models",
            "watch a small data set overfit, and compare what helps",
            "measure catastrophic forgetting: new-task accuracy against retained knowledge, one point per run",
        ],
        PARAMETERS,
    )
    cells += [
        md(INTRO),
        code(SETUP),
        md(COST_MD),
        code(COST_MEASURE),
        code(COST_CHECK),
        md(COST_READ),
        md(SCALE_MD),
        code(SCALE_CODE),
        code(SCALE_CHECK),
        md(SCALE_READ),
        md(OVERFIT_MD.format(n=32)),
        code(OVERFIT_RUN),
        code(OVERFIT_CHECK),
        md(OVERFIT_READ),
        md(HELPS_MD.format(n=32, more=256)),
        code(HELPS_RUN),
        code(HELPS_CHECK),
        md(HELPS_READ),
        md(FORGET_MD),
        code(FORGET_RUN),
        md(FORGET_PLOT_MD),
        code(FORGET_PLOT),
        code(FORGET_CHECK),
        md(MOVE_MD),
        code(MOVE_CHECK),
        md(FORGET_READ),
        md(CLOSING_MD),
        code(CLOSING),
        md(EXERCISES),
    ]
    return write_notebook(path, cells)


if __name__ == "__main__":
    print(build())
