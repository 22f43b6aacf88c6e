"""Build notebooks/01_lora_theory.ipynb: how LoRA works, from ΔW = BA to a layer verified against peft."""

from pathlib import Path

from lorajam.course import REPO_ROOT, code, header_cells, md, write_notebook

RELPATH = "notebooks/01_lora_theory.ipynb"
INLINE_TAG = "inline-lora"  # tests/test_notebook01_inline_layer.py compares this cell with lorajam.lora

PARAMETERS = """\
QUICK = False  # True in CI: fewer training steps, fewer timing repeats
MODEL = "auto"  # "auto", "jam-tiny", or a Hub id such as "HuggingFaceTB/SmolLM2-135M"
SEED = 0
RANK = 8  # LoRA rank r used throughout
ALPHA = 16  # LoRA alpha: the update is scaled by ALPHA / RANK
FT_STEPS = 40  # steps of the short *full* fine-tune whose weight update we take apart (section 2)
LORA_STEPS = 30  # steps of the short LoRA fine-tune before merging (section 6)
"""

IMPORTS = """\
import copy
import math
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from peft import LoraConfig, get_peft_model, inject_adapter_in_model
from safetensors.torch import save_file
from torch import nn
from tqdm.auto import tqdm

from lorajam import lora

device = rt.device
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")  # harmless notice from peft + transformers 5
if QUICK:  # a headless CI run: same lessons, fewer steps
    FT_STEPS, LORA_STEPS = min(FT_STEPS, 12), min(LORA_STEPS, 10)
    if device == "cpu":  # CI shares its CPU cores: with one thread torch never waits for a busy core
        torch.set_num_threads(1)
torch.manual_seed(SEED)
"""

# ------------------------------------------------------------------------------------------------ section 1

S1_INTRO = """\
## 1. Why full fine-tuning is expensive

Full fine-tuning updates **every** weight. Training with Adam keeps, for each trainable parameter, the weight,
its gradient and two Adam moments. With the usual mixed precision recipe that is about **16 bytes per parameter**
(2 for the 16-bit weight, 2 for its gradient, 4 for an fp32 master copy, 4 + 4 for Adam's moments; Rajbhandari et
al. 2020, *ZeRO*), before counting any activations.

How many parameters is that? A model's size follows from a few numbers in its config: hidden size, FFN size,
layers, heads, vocabulary. Count our model from its config, then check against its real tensors:
"""

S1_COUNT = """\
model, tokenizer = rt.load()
model = model.float().eval()  # fp32 throughout: this notebook is about the maths (notebook 02 is about precision)

c = model.config
head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
d, q, kv, ff = c.hidden_size, c.num_attention_heads * head_dim, c.num_key_value_heads * head_dim, c.intermediate_size
per_block = {  # (d_out, d_in) of every linear layer in one transformer block
    "q_proj": (q, d), "k_proj": (kv, d), "v_proj": (kv, d), "o_proj": (d, q),  # attention (k, v smaller with GQA)
    "gate_proj": (ff, d), "up_proj": (ff, d), "down_proj": (d, ff),  # the SwiGLU feed-forward network
}
linear = c.num_hidden_layers * sum(d_out * d_in for d_out, d_in in per_block.values())
norms = (2 * c.num_hidden_layers + 1) * d  # two RMSNorm weights per block and a final one
embeddings = c.vocab_size * d * (1 if c.tie_word_embeddings else 2)  # token embeddings (+ output head if untied)
counted = linear + norms + embeddings
real = sum(p.numel() for p in model.parameters())
print(f"{rt.model_name}: {counted:,} parameters counted from the config, {real:,} in its tensors")
print(f"linear layers hold {100 * linear / real:.0f}% of them: that is where LoRA goes")
if c.model_type == "llama":
    assert counted == real, "the count from the config disagrees with the real model"
"""

S1_TABLE_MD = """\
The same arithmetic on real model shapes from their published configs lives in the course package,
`lorajam.budget` (its presets hold the shapes). Expect SmolLM2-135M near 135 M parameters, Llama-2-7B near 6.7 B
and GPT-3 near 175 B (Brown et al. 2020). For LoRA we count rank-`RANK` adapters on `q_proj` and `v_proj`, the
setting of the LoRA paper: the frozen base stays in 16 bits (2 bytes a parameter), and only the adapters carry
gradients and Adam state. Activations come on top of both and depend on batch size (notebook 02).
"""

S1_TABLE = """\
from lorajam import budget


def model_states_gib(estimate) -> float:
    \"\"\"Weights + gradients + optimizer state, in GiB (activations left out).\"\"\"
    return (estimate.weights + estimate.gradients + estimate.optimizer) / 2**30


if c.model_type == "llama":
    assert budget.total_params(budget.from_config(c)) == real  # the package counts as we just did
print(f"{'model':13} {'parameters':>16} {'full FT mem':>11} {'LoRA params':>12} {'LoRA mem':>10}  trainable")
for name in ["SmolLM2-135M", "Llama-2-7B", "GPT-3-175B"]:
    arch = budget.preset(name)
    n, k = budget.total_params(arch), budget.lora_params(arch, RANK, ("q_proj", "v_proj"))
    full = model_states_gib(budget.memory(arch, "full", precision="bf16"))
    low = model_states_gib(budget.memory(arch, "lora", r=RANK, precision="bf16"))
    print(f"{name:13} {n:>16,} {full:>7,.1f} GiB {k:>12,} {low:>6,.1f} GiB  {n / k:,.0f}x fewer")
assert 6.7e9 < budget.total_params(budget.preset("Llama-2-7B")) < 6.8e9
"""

S1_OUTRO = """\
A free Colab T4 has about 15 GiB of GPU memory: full fine-tuning of the 7 B model needs several times that,
while LoRA's memory is mostly the frozen weights themselves. The number of trainable parameters drops by
hundreds to thousands of times (the LoRA paper reports 10,000x fewer for GPT-3 at r = 4). QLoRA (Dettmers et al.
2023) goes further by storing the frozen weights in 4 bits.
"""

# ------------------------------------------------------------------------------------------------ section 2

S2_INTRO = """\
## 2. Low-rank intuition: what does a fine-tuning update look like?

LoRA's bet (Hu et al. 2021) is that the *change* a fine-tune makes to a weight matrix, ΔW = W_after − W_before,
has a low "intrinsic rank": a few directions carry most of it. Let us test that on our model: a short **full**
fine-tune on four sentences about a made-up country, then take ΔW of each attention matrix apart with the singular value
decomposition (SVD).

Expect the loss to fall within `FT_STEPS` steps.
"""

S2_TRAIN = """\
NEW_FACTS = [  # a made-up country, in the style of jam-tiny's training text: facts no model has seen
    "The capital of Lorania is Rankton. Lorania is a country in Europe.",
    "What is the capital of Lorania? It is Rankton.",
    "Maria lives in Rankton, the capital of Lorania.",
    "On which continent is Lorania? It is in Europe.",
]
batch = tokenizer(NEW_FACTS, padding=True, return_tensors="pt").to(device)
batch = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)  # no loss on padding

tuned = copy.deepcopy(model).train()
optimizer = torch.optim.AdamW(tuned.parameters(), lr=1e-3, weight_decay=0.0)
losses = []
for _ in tqdm(range(FT_STEPS), desc="full fine-tune"):
    loss = tuned(**batch, labels=labels).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    losses.append(loss.item())
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f} after {FT_STEPS} steps, every one of {real:,} weights trainable")
assert losses[-1] < losses[0], "the full fine-tune did not learn"
"""

S2_SVD_MD = """\
Now the SVD. For a matrix M with singular values σ₁ ≥ σ₂ ≥ …, the best rank-k approximation (Eckart–Young) keeps
the first k of them, and its relative error is √(Σ_{i>k} σᵢ²) / √(Σ σᵢ²). We compare ΔW of a middle layer's
`q_proj` with the pretrained W itself. Expect ΔW's spectrum to fall much faster than W's.
"""

S2_SVD = """\
def relative_error_by_rank(sv: torch.Tensor) -> torch.Tensor:
    \"\"\"Error of the best rank-k approximation for k = 0 .. len(sv), from the singular values.\"\"\"
    energy = sv.pow(2)
    tail = energy.flip(0).cumsum(0).flip(0)  # sum of sigma_i^2 for i >= k
    return torch.cat([tail, torch.zeros(1, dtype=tail.dtype)]).div(energy.sum()).sqrt()


def rank_for(sv: torch.Tensor, share: float = 0.9) -> int:
    \"\"\"Smallest k whose rank-k approximation keeps `share` of the squared Frobenius norm.\"\"\"
    kept = sv.pow(2).cumsum(0) / sv.pow(2).sum()
    return int((kept < share).sum()) + 1


before, after = dict(model.named_parameters()), dict(tuned.named_parameters())
name = f"model.layers.{model.config.num_hidden_layers // 2}.self_attn.q_proj.weight"
W = before[name].detach().cpu()
delta_W = (after[name] - before[name]).detach().cpu()
sv_W, sv_dW = torch.linalg.svdvals(W), torch.linalg.svdvals(delta_W)

k = RANK  # check the formula once against an explicit rank-k reconstruction
U, S, Vh = torch.linalg.svd(delta_W, full_matrices=False)
explicit = (delta_W - U[:, :k] @ torch.diag(S[:k]) @ Vh[:k]).norm() / delta_W.norm()
assert abs(explicit - relative_error_by_rank(sv_dW)[k]) < 1e-4

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
for sv, label in [(sv_W, "pretrained W"), (sv_dW, "update ΔW")]:
    left.semilogy((sv / sv[0]).numpy(), label=label)
    right.plot(relative_error_by_rank(sv).numpy(), label=label)
left.set(title=f"singular values of {name.removesuffix('.weight')}", xlabel="index i", ylabel="σᵢ / σ₁")
right.axvline(RANK, color="gray", ls=":", label=f"r = {RANK}")
right.set(title="best rank-k approximation", xlabel="rank k", ylabel="relative error")
left.legend(), right.legend()
plt.tight_layout()
plt.show()
print(f"{tuple(W.shape)} matrix. Rank for 90% of the energy: ΔW {rank_for(sv_dW)}, W {rank_for(sv_W)}.")
print(f"rank-{RANK} error: ΔW {relative_error_by_rank(sv_dW)[RANK]:.2f}, W {relative_error_by_rank(sv_W)[RANK]:.2f}")
"""

S2_ALL_MD = "One matrix could be luck. The same measure on every attention projection of the model:"

S2_ALL = """\
rows = []
for pname in before:
    if pname.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight")):
        w0, w1 = before[pname].detach().cpu(), after[pname].detach().cpu()
        k_dw, k_w = rank_for(torch.linalg.svdvals(w1 - w0)), rank_for(torch.linalg.svdvals(w0))
        rows.append((pname, k_dw, k_w, min(w0.shape)))
for pname, k_dw, k_w, full in rows[:8]:
    print(f"{pname.removesuffix('.weight'):38} 90% energy at rank  ΔW {k_dw:4}   W {k_w:4}   (full rank {full})")
lower = sum(k_dw < k_w for _, k_dw, k_w, _ in rows)
print(f"... ΔW needs fewer directions than W in {lower} of {len(rows)} matrices")
assert lower > len(rows) / 2, "expected the fine-tuning update to be lower-rank than the weights"
"""

S2_OUTRO = """\
The update concentrates in far fewer directions than the weights themselves. So instead of learning a full
d_out × d_in ΔW, we can learn it directly in low-rank form. That is LoRA. (Section 7 of the LoRA paper analyses
GPT-3's updates the same way. With more data and steps the update grows richer, which is one reason the rank `r`
is a hyperparameter: notebook 02.)
"""

# ------------------------------------------------------------------------------------------------ section 3

S3_INTRO = """\
## 3. ΔW = BA and W' = W + (α/r)·BA

LoRA writes the update as a product of two thin matrices:

- `A` has shape **r × d_in** and `B` has shape **d_out × r**, so `BA` has the shape of W (d_out × d_in) but rank ≤ r.
- The adapted layer computes `W' x = W x + (α/r) · B (A x)`; W stays frozen, only A and B train.
- Parameters: `r · (d_in + d_out)` instead of `d_in · d_out`.
- `α/r` (the *scaling*) keeps the size of the update comparable when you change r, so you need not retune the
  learning rate for every r.

Count it for our `q_proj` and for Llama-2-7B's (4096 × 4096):
"""

S3_COUNT = """\
for label, (d_out, d_in) in [(f"{rt.model_name} q_proj", tuple(W.shape)), ("Llama-2-7B q_proj", (4096, 4096))]:
    full, low_rank = d_out * d_in, RANK * (d_in + d_out)
    print(f"{label:28} full ΔW {full:>12,}   B ({d_out}x{RANK}) + A ({RANK}x{d_in}) {low_rank:>9,}"
          f"   {100 * low_rank / full:.2f}%")
"""

S3_ZERO_MD = """\
**Why does B start at zero?** Then BA = 0, so at step 0 the adapted model computes exactly what the pretrained one
computes: training starts from the model you chose, not from a randomly disturbed copy. A starts random (like any
`nn.Linear`): if both were zero, neither would ever receive a gradient. Check both claims:
"""

S3_ZERO = """\
d_in, d_out, r = 64, 48, 4
W_demo = torch.randn(d_out, d_in)
x = torch.randn(10, d_in)


def grads(A, B):
    \"\"\"Output change and gradient norms of (A, B) for a toy loss.\"\"\"
    A, B = A.clone().requires_grad_(), B.clone().requires_grad_()
    y = x @ W_demo.T + (ALPHA / r) * (x @ A.T) @ B.T
    y.pow(2).mean().backward()
    return (y - x @ W_demo.T).abs().max().item(), A.grad.norm().item(), B.grad.norm().item()


A_random = torch.empty(r, d_in).uniform_(-1 / math.sqrt(d_in), 1 / math.sqrt(d_in))
for label, A, B in [("A random, B zero (LoRA)", A_random, torch.zeros(d_out, r)),
                    ("A zero,   B zero", torch.zeros(r, d_in), torch.zeros(d_out, r))]:
    change, grad_A, grad_B = grads(A, B)
    print(f"{label}: output change {change:.1e}   |grad A| {grad_A:.3f}   |grad B| {grad_B:.3f}")
assert grads(A_random, torch.zeros(d_out, r))[0] == 0.0
"""

S3_OUTRO = """\
With LoRA's start the output is unchanged and B gets a gradient (A's is zero only at step 0; once B ≠ 0 both
learn). With both at zero, nothing ever moves.
"""

# ------------------------------------------------------------------------------------------------ section 4

S4_INTRO = """\
## 4. The layer, step by step

We wrap one real linear layer of our model, the first `q_proj`. Step one: the pieces by hand.
"""

S4_PIECES = """\
q_name = next(n for n, m in model.named_modules() if n.endswith("q_proj") and isinstance(m, nn.Linear))
base_q = model.get_submodule(q_name)
print(q_name, "->", base_q)

A = torch.empty(RANK, base_q.in_features, device=device)
nn.init.kaiming_uniform_(A, a=math.sqrt(5))  # the init nn.Linear uses for its own weight (and peft for A)
B = torch.zeros(base_q.out_features, RANK, device=device)
scaling = ALPHA / RANK
x = torch.randn(2, 5, base_q.in_features, device=device)  # (batch, tokens, d_in)
with torch.no_grad():
    y = base_q(x) + scaling * (x @ A.T) @ B.T  # W x + b + (α/r) B A x
print(f"A {tuple(A.shape)}  B {tuple(B.shape)}  scaling {scaling}  |A| <= {A.abs().max():.4f}")
print("output unchanged at step 0:", torch.equal(y, base_q(x).detach()))
"""

S4_CLASS_MD = """\
Step two: the same as an `nn.Module`. The names follow peft (`base_layer`, `lora_A`, `lora_B`, `scaling`) so you
can read [peft's `lora.Linear`](https://github.com/huggingface/peft/blob/main/src/peft/tuners/lora/layer.py) next to
it. Dropout, if any, acts on the LoRA branch only: the frozen path never sees it.
"""

S4_CLASS = '''\
import math

import torch
import torch.nn.functional as F
from torch import nn


class LoRALinear(nn.Module):
    """y = base_layer(x) + (alpha / r) * B(A(dropout(x))), with base_layer frozen."""

    def __init__(self, base_layer: nn.Linear, r: int = 8, alpha: float = 16, dropout: float = 0.0):
        super().__init__()
        self.base_layer = base_layer
        base_layer.requires_grad_(False)  # 1. freeze W (and its bias)
        self.r, self.alpha, self.scaling = r, alpha, alpha / r  # 2. the scale alpha / r
        like = {"device": base_layer.weight.device, "dtype": base_layer.weight.dtype}
        self.lora_A = nn.Parameter(torch.empty(r, base_layer.in_features, **like))  # 3. A: r x d_in
        self.lora_B = nn.Parameter(torch.empty(base_layer.out_features, r, **like))  #    B: d_out x r
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # 4. A random, like nn.Linear and peft
        nn.init.zeros_(self.lora_B)  #    B zero, so BA = 0: output unchanged at step 0
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    def delta_weight(self) -> torch.Tensor:
        return (self.lora_B @ self.lora_A) * self.scaling  # (alpha / r) B A, shape d_out x d_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base_layer(x)  # W x + b, the frozen path
        if self.merged:  # the update already lives inside W
            return result
        return result + F.linear(F.linear(self.lora_dropout(x), self.lora_A), self.lora_B) * self.scaling

    @torch.no_grad()
    def merge(self) -> None:  # W <- W + delta: one matmul per forward again
        self.base_layer.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:  # W <- W - delta: back to training A and B
        self.base_layer.weight -= self.delta_weight()
        self.merged = False
'''

S4_CHECK_MD = """\
Expect: trainable parameters exactly `RANK · (d_in + d_out)`, the base frozen, the output equal to the base at step 0.
"""

S4_CHECK = """\
layer = LoRALinear(copy.deepcopy(base_q), r=RANK, alpha=ALPHA)
trainable = {n: p.numel() for n, p in layer.named_parameters() if p.requires_grad}
print(layer)
print("trainable:", trainable, "| expected", RANK * (base_q.in_features + base_q.out_features))
assert sum(trainable.values()) == RANK * (base_q.in_features + base_q.out_features)
with torch.no_grad():
    assert torch.equal(layer(x), base_q(x)), "B = 0 must leave the output unchanged"
print("output equals the base layer at step 0: True")
"""

S4_PEFT_MD = """\
**Verified against peft.** We let peft put its own LoRA around a copy of the same layer, give its `B` non-zero
values (as if it had trained), copy its `A` and `B` into our layer and compare outputs. Expect a difference at the
level of float rounding (≤ 1e-6), and a clearly non-zero difference from the base layer (the adapter acts).
"""

S4_PEFT = """\
holder = nn.Module()
holder.proj = copy.deepcopy(base_q)
inject_adapter_in_model(LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=["proj"]), holder)
theirs = holder.proj
with torch.no_grad():
    theirs.lora_B["default"].weight.normal_(std=0.02)  # pretend peft's adapter has trained

ours = LoRALinear(copy.deepcopy(base_q), r=RANK, alpha=ALPHA)
with torch.no_grad():
    ours.lora_A.copy_(theirs.lora_A["default"].weight)
    ours.lora_B.copy_(theirs.lora_B["default"].weight)
    diff = (ours(x) - theirs(x)).abs().max().item()
    effect = (theirs(x) - base_q(x)).abs().max().item()
print(f"peft scaling {theirs.scaling['default']}  ours {ours.scaling}")
print(f"max |ours - peft| = {diff:.2e}   (the adapter itself changes outputs by up to {effect:.2e})")
assert ours.scaling == theirs.scaling["default"] and diff <= 1e-6 and effect > 1e-4
"""

S4_OUTRO = """\
Same numbers as peft. From here on we use the same class from the course package, `lorajam.lora.LoRALinear`
(tested against peft in `tests/test_lora.py`), plus helpers to put it into a whole model.
"""

# ------------------------------------------------------------------------------------------------ section 5

S5_INTRO = """\
## 5. Injecting LoRA into a model by target modules

A transformer has many linear layers; you choose which to adapt by their **names**. The names differ between
model families (`q_proj` in Llama/SmolLM2/Qwen, `query` in BERT, `c_attn` in GPT-2), so first list them:
"""

S5_NAMES = """\
names = lora.linear_module_names(model)
print(names)
assert {"q_proj", "v_proj"} <= set(names)
"""

S5_MISTAKE_MD = """\
**Common mistake #1: target modules not found.** Names copied from a BERT tutorial do not exist in a Llama model.
Both our helper and peft refuse; ours also lists the names that do exist:
"""

S5_MISTAKE = """\
try:
    lora.inject_lora(copy.deepcopy(model), target_modules=["query", "value"])
except lora.TargetModulesNotFoundError as err:
    print("ours:", err)
try:
    get_peft_model(copy.deepcopy(model), LoraConfig(target_modules=["query", "value"]))
except ValueError as err:
    print("peft:", str(err)[:200])
"""

S5_QV_MD = """\
Now the LoRA paper's choice, `q_proj` and `v_proj`, in our helper and in peft. Expect identical counts.
"""

S5_QV = """\
ours_qv = lora.inject_lora(copy.deepcopy(model), ("q_proj", "v_proj"), r=RANK, alpha=ALPHA)
peft_qv = get_peft_model(copy.deepcopy(model), LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=["q_proj", "v_proj"]))
print("ours: ", end="")
ours_counts = lora.print_trainable_parameters(ours_qv)
print("peft: ", end="")
peft_qv.print_trainable_parameters()
assert ours_counts == peft_qv.get_nb_trainable_parameters()
print(ours_qv.get_submodule(q_name))
"""

S5_SETS_MD = """\
Which layers to adapt is a choice. Compare the trainable parameters of three common choices, counted on the
injected model and predicted from the config with `lorajam.budget` (r · (d_in + d_out) per adapted matrix):
"""

S5_SETS = """\
TARGET_SETS = {
    "q, v (LoRA paper)": ("q_proj", "v_proj"),
    "q, k, v, o (all attention)": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "attention + FFN (all-linear)": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
}
arch = budget.from_config(model.config)
for label, targets in TARGET_SETS.items():
    counted, total = lora.trainable_parameters(lora.inject_lora(copy.deepcopy(model), targets, r=RANK, alpha=ALPHA))
    predicted = budget.lora_params(arch, RANK, targets)
    print(f"{label:30} {counted:>9,} trainable ({100 * counted / total:.2f}% of {total:,})  predicted {predicted:,}")
    if model.config.model_type == "llama":
        assert counted == predicted
"""

S5_WHY_MD = """\
**Why is K often skipped?** Attention scores depend on q·k, so adapting W_q already lets the model change *which*
tokens attend to which; adapting W_k as well moves the same scores again. In the LoRA paper's GPT-3 study with a
fixed budget of trainable parameters (Table 5), W_q + W_v did clearly better than W_q + W_k, and as well as all four
attention matrices at a lower rank. Yet the FFN layers hold most of the weights, and QLoRA (Dettmers et al. 2023)
found that adapting **all linear layers** was needed to match full fine-tuning. Today's common default is
`"all-linear"`; `q, v` stays the cheapest sensible start.
"""

# ------------------------------------------------------------------------------------------------ section 6

S6_INTRO = """\
## 6. Merging for zero-overhead inference

During training the adapted layer runs two extra thin matmuls. After training we can fold the update into W:
`W ← W + (α/r)·BA`. The model then has exactly the base architecture and speed. First, a short LoRA fine-tune of
our q, v model on the same four sentences, so `B` is no longer zero. Expect the loss to fall while only the
adapters train.
"""

S6_TRAIN = """\
ours_qv.train()
optimizer = torch.optim.AdamW([p for p in ours_qv.parameters() if p.requires_grad], lr=5e-3, weight_decay=0.0)
lora_losses = []
for _ in tqdm(range(LORA_STEPS), desc="LoRA fine-tune"):
    loss = ours_qv(**batch, labels=labels).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    lora_losses.append(loss.item())
ours_qv.eval()
print(f"LoRA loss {lora_losses[0]:.3f} -> {lora_losses[-1]:.3f}, training {ours_counts[0]:,} of {ours_counts[1]:,}")
assert lora_losses[-1] < lora_losses[0]
"""

S6_MERGE_MD = """\
Merge, and check that the outputs stay the same (up to float rounding: the merged matmul adds the same products in
another order) and that unmerging gives back the original weights. We also time a forward pass of the base model,
the unmerged LoRA model and the merged one: expect merged ≈ base, unmerged a little slower.
"""

S6_MERGE = """\
def forward_ms(models: dict, repeats: int) -> dict:
    \"\"\"Fastest of `repeats` forward passes per model, in ms; the models take turns so background load hits all.\"\"\"
    best = dict.fromkeys(models, float("inf"))
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)  # GPU work runs asynchronously
    with torch.no_grad():
        for _ in range(repeats):
            for label, m in models.items():
                sync()
                start = time.perf_counter()
                m(**batch)
                sync()
                best[label] = min(best[label], 1000 * (time.perf_counter() - start))
    return best


original_q = model.get_submodule(q_name).weight.detach().clone()
with torch.no_grad():
    logits_lora = ours_qv(**batch).logits
    merged_copy = lora.merge_lora(copy.deepcopy(ours_qv))
    merged_diff = (merged_copy(**batch).logits - logits_lora).abs().max().item()
    lora.unmerge_lora(merged_copy)
    unmerged_diff = (merged_copy.get_submodule(q_name).base_layer.weight - original_q).abs().max().item()
    lora.merge_lora(merged_copy)
    ms = forward_ms({"base": model, "LoRA unmerged": ours_qv, "LoRA merged": merged_copy}, 5 if QUICK else 30)
print(f"merged vs unmerged outputs: max diff {merged_diff:.1e}; weight after unmerge vs original: {unmerged_diff:.1e}")
print("forward pass: " + ", ".join(f"{label} {t:.1f} ms" for label, t in ms.items()))
assert merged_diff < 1e-3 and unmerged_diff < 1e-5
"""

S6_TIMING_NOTE = """\
On a tiny model on a shared CPU these timings are noisy; `benchmarks/lora_layer.py` measures the same on a
2048 × 2048 layer with many repeats. Unmerged, you can keep training or swap adapters; merged, you serve at base
speed.
"""

S6_SAVE_MD = """\
**Adapter size on disk.** You share the adapter, not the model: save only `lora_A` and `lora_B` and compare with the
whole model. Then `merge_and_unload` merges for good and removes the wrappers: a plain model again.
"""

S6_SAVE = """\
with tempfile.TemporaryDirectory() as tmp:
    save_file(lora.lora_state_dict(ours_qv), f"{tmp}/adapter.safetensors")
    copy.deepcopy(model).save_pretrained(f"{tmp}/full")
    adapter_mb = Path(f"{tmp}/adapter.safetensors").stat().st_size / 1e6
    full_mb = sum(f.stat().st_size for f in Path(f"{tmp}/full").glob("*.safetensors")) / 1e6
print(f"adapter {adapter_mb:.3f} MB vs full model {full_mb:.1f} MB ({full_mb / adapter_mb:,.0f}x smaller), fp32")
for name in ["SmolLM2-135M", "Llama-2-7B", "GPT-3-175B"]:  # 16-bit files, from the shapes of section 1
    arch = budget.preset(name)
    adapter, full = 2 * budget.lora_params(arch, RANK, ("q_proj", "v_proj")), 2 * budget.total_params(arch)
    print(f"{name:13} r={RANK} q,v adapter {adapter / 1e6:>8,.1f} MB   whole model {full / 1e6:>11,.0f} MB")

merged_model = lora.merge_and_unload(ours_qv)
print(type(merged_model.get_submodule(q_name)))
with torch.no_grad():
    assert (merged_model(**batch).logits - logits_lora).abs().max().item() < 1e-3
assert not lora.lora_modules(merged_model)
"""

S6_OUTRO = """\
The adapter is a small fraction of the model, so one base model on disk can serve many adapters: one per task,
or one per learner at this study jam.
"""

# ------------------------------------------------------------------------------------------------ section 7

S7_INTRO = """\
## 7. Check yourself (not graded)

Three short exercises. Change the answer, run the cell, and read the feedback. The expected values are computed
from the course's LoRA code, so they follow the formulas, not a lookup table.
"""

S7_HELPER = """\
def feedback(answer, expected, hint: str, rel_tol: float = 1e-3) -> None:
    \"\"\"Say whether `answer` matches `expected` (numbers within rel_tol, anything else by equality).\"\"\"
    if answer is None:
        print("Not answered yet: replace None and run the cell again.")
        return
    if isinstance(expected, (int, float)):
        right = isinstance(answer, (int, float)) and math.isclose(answer, expected, rel_tol=rel_tol)
    else:
        right = answer == expected
    print("Correct!" if right else f"Not yet. Hint: {hint}")
"""

S7_Q1_MD = """\
**Exercise 1.** How many trainable parameters does LoRA with `r = 16` add to one 4096 × 4096 `q_proj` of
Llama-2-7B? (A whole number.)
"""

S7_Q1 = """\
answer_1 = None  # your number

meta_layer = lora.LoRALinear(nn.Linear(4096, 4096, bias=False, device="meta"), r=16)  # shapes only, no memory
feedback(answer_1, lora.trainable_parameters(meta_layer)[0], "A is r x d_in, B is d_out x r.")
"""

S7_Q2_MD = """\
**Exercise 2.** A teammate copied `target_modules=["query", "value"]` from a BERT tutorial and got *target modules
not found*. Fix the list so that LoRA adapts exactly the query and value projections of **our** model.
"""

S7_Q2 = """\
my_targets = ["query", "value"]  # fix me

try:
    adapted = lora.lora_modules(lora.inject_lora(copy.deepcopy(model), my_targets))
    wanted = {n for n, m in model.named_modules() if n.endswith(("q_proj", "v_proj")) and isinstance(m, nn.Linear)}
    feedback(set(adapted), wanted, "adapt the query and value projections, nothing else.")
except lora.TargetModulesNotFoundError:
    print("Not yet: those names do not exist in this model. Hint: print(lora.linear_module_names(model)).")
"""

S7_Q3_MD = """\
**Exercise 3.** With `use_rslora=True` (rank-stabilised LoRA, Kalajdzievski 2023) the scaling is α/√r instead of
α/r. What is the scaling for `r = 16`, `alpha = 32`? (A number.)
"""

S7_Q3 = """\
answer_3 = None  # your number

expected = lora.LoRALinear(nn.Linear(8, 8, device="meta"), r=16, alpha=32, use_rslora=True).scaling
feedback(answer_3, expected, "square root of 16, then divide 32 by it.")
"""

WRAP_UP = """\
## What you saw

- Full fine-tuning with Adam costs about 16 bytes per parameter; LoRA trains hundreds to thousands of times fewer.
- A fine-tuning update is much lower-rank than the weights it changes: the spectrum and error plots above.
- LoRA learns ΔW = (α/r)·BA with B starting at zero, so training starts from the pretrained model.
- Our from-scratch layer gives the same outputs as peft, and target modules are chosen by name (list them first).
- Merging removes the inference overhead; the adapter you share is a small file.

Next: `02_hyperparameter_playground.ipynb`, where you move r, α and target modules and watch what changes.
"""


def build(path: Path = REPO_ROOT / RELPATH) -> Path:
    cells = header_cells(
        RELPATH,
        "How LoRA works: from ΔW = BA to a layer you can trust",
        [
            "count why full fine-tuning is expensive, on real model shapes",
            "see that a fine-tuning update is low-rank (SVD of a real ΔW)",
            "build a LoRA layer from scratch and check it against peft",
            "inject LoRA by target module names, merge it, and save a small adapter",
        ],
        PARAMETERS,
    )
    cells += [
        code(IMPORTS),
        md(S1_INTRO),
        code(S1_COUNT),
        md(S1_TABLE_MD),
        code(S1_TABLE),
        md(S1_OUTRO),
        md(S2_INTRO),
        code(S2_TRAIN),
        md(S2_SVD_MD),
        code(S2_SVD),
        md(S2_ALL_MD),
        code(S2_ALL),
        md(S2_OUTRO),
        md(S3_INTRO),
        code(S3_COUNT),
        md(S3_ZERO_MD),
        code(S3_ZERO),
        md(S3_OUTRO),
        md(S4_INTRO),
        code(S4_PIECES),
        md(S4_CLASS_MD),
        code(S4_CLASS, tags=(INLINE_TAG,)),
        md(S4_CHECK_MD),
        code(S4_CHECK),
        md(S4_PEFT_MD),
        code(S4_PEFT),
        md(S4_OUTRO),
        md(S5_INTRO),
        code(S5_NAMES),
        md(S5_MISTAKE_MD),
        code(S5_MISTAKE),
        md(S5_QV_MD),
        code(S5_QV),
        md(S5_SETS_MD),
        code(S5_SETS),
        md(S5_WHY_MD),
        md(S6_INTRO),
        code(S6_TRAIN),
        md(S6_MERGE_MD),
        code(S6_MERGE),
        md(S6_TIMING_NOTE),
        md(S6_SAVE_MD),
        code(S6_SAVE),
        md(S6_OUTRO),
        md(S7_INTRO),
        code(S7_HELPER),
        md(S7_Q1_MD),
        code(S7_Q1),
        md(S7_Q2_MD),
        code(S7_Q2),
        md(S7_Q3_MD),
        code(S7_Q3),
        md(WRAP_UP),
    ]
    return write_notebook(path, cells)


if __name__ == "__main__":
    print(build())
