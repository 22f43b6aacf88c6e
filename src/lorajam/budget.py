"""Parameter and memory arithmetic for full fine-tuning, LoRA and QLoRA (pure Python, fast, no torch).

Shapes are data: `PRESETS` holds published architectures, `from_config(hf_config)` reads any loaded Hugging Face
config, and `preset("jam-tiny")` reads the bundled model's own config.json. From an `Architecture`:

- `total_params(arch)`, `lora_params(arch, r, targets)` (equals peft's `get_nb_trainable_parameters()`),
  `scaling(r, alpha)` (LoRA's α/r, rsLoRA's α/√r);
- `memory(arch, method, ...)` -> `MemoryEstimate` split into weights, gradients, optimizer state, activations;
- `budget(arch, ...)` -> `Budget`: everything the playground shows for one setting.

Memory model (bytes; N = batch x sequence tokens; p = bytes of the compute dtype):
- weights: full FT in fp32 keeps 4 B/param; in fp16/bf16 mixed precision 2 B/param plus an fp32 master copy that
  the optimizer owns (4 B/param, counted under "optimizer": the 16 B/param of Rajbhandari et al. 2020, ZeRO).
  LoRA keeps the frozen base in the compute dtype and the adapter in fp32 (peft's default). QLoRA stores the
  decoder's linear layers in 4-bit NF4: 0.5 B/param plus quantisation constants (one fp32 absmax per 64 weights,
  0.5 bit/param, or 0.127 bit/param with double quantisation; Dettmers et al. 2023); embeddings, norms and the
  output head stay in the compute dtype.
- gradients: one per trainable parameter, in the trainable parameter's dtype.
- optimizer: AdamW keeps two fp32 states (8 B/trainable param); "adamw-8bit" two 8-bit states (2 B, block
  constants ignored); "sgd" none. Paged optimizers only move these bytes to CPU when the GPU is full.
- activations: the tensors autograd saves for backward (counted per layer from the Llama block: norm inputs,
  projection inputs that feed a trainable weight, q/k/v/attention output of a fused SDPA kernel, the SwiGLU
  intermediates, the LoRA A outputs), the fp32 log-softmax of the loss, plus the transient logits gradients of
  the backward pass. Attention is assumed fused (memory linear in sequence length); no gradient checkpointing.
- peak: gradients appear while activations are freed during backward, so `peak` = weights + optimizer +
  max(gradients + optimizer-step temporaries, activations + backward-pass buffers (the logits' gradients, the
  first-reached weight gradients)). `total` is the plain sum of the four parts, the usual textbook figure; the
  peak can be below it (full FT) or above it (long sequences x large vocabularies). The peak is what
  `benchmarks/playground.py` validates against measurement and what `fits()` uses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

ATTENTION_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_MODULES = ("gate_proj", "up_proj", "down_proj")
ALL_MODULES = ATTENTION_MODULES + MLP_MODULES
METHODS = ("full", "lora", "qlora")
PRECISIONS = {"fp32": 4, "fp16": 2, "bf16": 2}
OPTIMIZERS = {"adamw": 8, "adamw-8bit": 2, "sgd": 0}  # optimizer-state bytes per trainable parameter
NF4_BLOCK = 64
GIB = 2**30
# Memory a learner can actually use on the GPUs they know (what torch reports, in GiB).
GPUS: dict[str, float] = {"T4 (16 GB)": 15.0, "A100 (80 GB)": 80.0}


class BudgetError(ValueError):
    """A setting the estimator cannot work with; the message says how to fix it."""


@dataclass(frozen=True)
class Architecture:
    """The shapes of a decoder-only transformer (Llama-style names for its linear layers)."""

    name: str
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_ff: int
    vocab: int
    head_dim: int | None = None  # default d_model // n_heads (Gemma 3 differs)
    tied_embeddings: bool = True
    mlp: str = "gated"  # "gated": gate/up/down (SwiGLU); "plain": up/down (GELU, GPT-3)
    qkv_bias: bool = False  # Qwen2 has biases on q/k/v
    linear_bias: bool = False  # every linear layer has a bias (GPT-3)
    norms_per_layer: int = 2  # Gemma 3 has four
    norm_bias: bool = False  # LayerNorm (GPT-3) vs RMSNorm
    qk_norm: bool = False  # per-head RMSNorm on q and k (Gemma 3)
    learned_positions: int = 0  # GPT-3: 2048 learned position embeddings
    source: str = ""

    @property
    def hd(self) -> int:
        return self.head_dim or self.d_model // self.n_heads

    @property
    def modules(self) -> tuple[str, ...]:
        """Linear-layer names inside one block (what LoRA can target)."""
        mlp = MLP_MODULES if self.mlp == "gated" else ("up_proj", "down_proj")
        return ATTENTION_MODULES + mlp


def _arch(name: str, d: int, layers: int, heads: int, kv: int, ff: int, vocab: int, **kw) -> Architecture:
    return Architecture(name, d, layers, heads, kv, ff, vocab, **kw)


# Shapes from each model's published config.json (or paper, for LLaMA-65B and GPT-3).
PRESETS: dict[str, Architecture] = {
    a.name: a
    for a in (
        _arch("SmolLM2-135M", 576, 30, 9, 3, 1536, 49152, source="HuggingFaceTB/SmolLM2-135M config.json"),
        _arch("Gemma-3-270M", 640, 18, 4, 1, 2048, 262144, head_dim=256, norms_per_layer=4, qk_norm=True,
              source="google/gemma-3-270m config.json"),
        _arch("Qwen2.5-0.5B", 896, 24, 14, 2, 4864, 151936, qkv_bias=True, source="Qwen/Qwen2.5-0.5B config.json"),
        _arch("Llama-2-7B", 4096, 32, 32, 32, 11008, 32000, tied_embeddings=False,
              source="meta-llama/Llama-2-7b-hf config.json"),
        _arch("LLaMA-65B", 8192, 80, 64, 64, 22016, 32000, tied_embeddings=False,
              source="Touvron et al. 2023, LLaMA, Table 2 (HF conversion config)"),
        _arch("GPT-3-175B", 12288, 96, 96, 96, 4 * 12288, 50257, mlp="plain", linear_bias=True, norm_bias=True,
              learned_positions=2048, source="Brown et al. 2020, GPT-3, Table 2.1"),
    )
}
JAM_TINY = "jam-tiny"


def preset_names() -> list[str]:
    """Names `preset()` accepts: jam-tiny first (when its weights are installed), then small to large."""
    names = list(PRESETS)
    try:
        jam_tiny_config()
        names.insert(0, JAM_TINY)
    except BudgetError:
        pass
    return names


def jam_tiny_config() -> dict:
    """The bundled jam-tiny's config.json as a dict."""
    path = Path(__file__).resolve().parent / "assets" / "jam-tiny" / "config.json"
    if not path.exists():
        raise BudgetError(f"jam-tiny's config.json is missing ({path}); pick another preset: {', '.join(PRESETS)}")
    return json.loads(path.read_text())


def preset(name: str | Architecture) -> Architecture:
    """An `Architecture` by preset name (case-insensitive), or `jam-tiny` from the bundled config.json."""
    if isinstance(name, Architecture):
        return name
    if name.lower() == JAM_TINY:
        return replace(from_config(jam_tiny_config()), name=JAM_TINY)
    for key, arch in PRESETS.items():
        if key.lower() == name.lower():
            return arch
    raise BudgetError(f"Unknown preset {name!r}. Choose one of: {', '.join([JAM_TINY, *PRESETS])}, "
                      "or build one from a loaded model with budget.from_config(model.config).")


def from_config(config, name: str | None = None) -> Architecture:
    """An `Architecture` from a Hugging Face config object or config.json dict (Llama, Qwen2, Gemma 3, ...)."""
    if hasattr(config, "get_text_config"):
        config = config.get_text_config()
    get = config.get if isinstance(config, Mapping) else (lambda key, default=None: getattr(config, key, default))
    if get("hidden_size") is None and isinstance(get("text_config"), Mapping):
        return from_config(get("text_config"), name)
    d_model = get("hidden_size") or get("n_embd")
    layers = get("num_hidden_layers") or get("n_layer")
    heads = get("num_attention_heads") or get("n_head")
    if not (d_model and layers and heads):
        raise BudgetError("This config has no hidden_size/num_hidden_layers/num_attention_heads: "
                          "pass a decoder-only language model's config (e.g. model.config).")
    model_type = str(get("model_type", ""))
    gemma3 = model_type.startswith("gemma3")
    return Architecture(
        name=name or get("_name_or_path") or model_type or "custom",
        d_model=d_model,
        n_layers=layers,
        n_heads=heads,
        n_kv_heads=get("num_key_value_heads") or heads,
        d_ff=get("intermediate_size") or get("n_inner") or 4 * d_model,
        vocab=get("vocab_size"),
        head_dim=get("head_dim") or None,
        tied_embeddings=bool(get("tie_word_embeddings", True)),
        qkv_bias=bool(get("attention_bias", False)) or model_type == "qwen2",
        norms_per_layer=4 if gemma3 else 2,
        qk_norm=gemma3,
        source="from_config",
    )


def module_shapes(arch: Architecture) -> dict[str, tuple[int, int]]:
    """`{module name: (in_features, out_features)}` for the linear layers of one block (GQA-aware)."""
    q, kv = arch.n_heads * arch.hd, arch.n_kv_heads * arch.hd
    shapes = {
        "q_proj": (arch.d_model, q),
        "k_proj": (arch.d_model, kv),
        "v_proj": (arch.d_model, kv),
        "o_proj": (q, arch.d_model),
        "gate_proj": (arch.d_model, arch.d_ff),
        "up_proj": (arch.d_model, arch.d_ff),
        "down_proj": (arch.d_ff, arch.d_model),
    }
    return {name: shapes[name] for name in arch.modules}


def _bias(arch: Architecture, name: str, out: int) -> int:
    if arch.linear_bias or (arch.qkv_bias and name in ("q_proj", "k_proj", "v_proj")):
        return out
    return 0


def block_linear_params(arch: Architecture) -> int:
    """Parameters of one block's linear layers (weights and biases): what QLoRA stores in 4-bit."""
    return sum(i * o + _bias(arch, n, o) for n, (i, o) in module_shapes(arch).items())


def norm_params(arch: Architecture) -> int:
    """Norm parameters of the whole model (all blocks plus the final norm)."""
    per_norm = arch.d_model * (2 if arch.norm_bias else 1)
    per_block = arch.norms_per_layer * per_norm + (2 * arch.hd if arch.qk_norm else 0)
    return arch.n_layers * per_block + per_norm


def embedding_params(arch: Architecture) -> int:
    """Token embeddings, output head (when not tied) and learned position embeddings."""
    head = 0 if arch.tied_embeddings else arch.vocab * arch.d_model
    return arch.vocab * arch.d_model + head + arch.learned_positions * arch.d_model


def total_params(arch: Architecture) -> int:
    """All parameters of the base model (a tied output head counted once, as `model.num_parameters()`)."""
    return arch.n_layers * block_linear_params(arch) + norm_params(arch) + embedding_params(arch)


def check_targets(arch: Architecture, targets: Iterable[str]) -> tuple[str, ...]:
    """Validate LoRA target-module names against the architecture; returns them in block order."""
    targets = tuple(targets)
    if not targets:
        raise BudgetError("Pick at least one target module, e.g. ('q_proj', 'v_proj').")
    unknown = [t for t in targets if t not in arch.modules]
    if unknown:
        raise BudgetError(f"{arch.name} has no module(s) {unknown}: LoRA targets must be among {list(arch.modules)} "
                          "(a wrong name is a common mistake: peft then fails or trains nothing).")
    return tuple(m for m in arch.modules if m in targets)


def lora_params_per_module(arch: Architecture, r: int) -> dict[str, int]:
    """LoRA parameters added to one module: A (r x in) + B (out x r) = r * (in + out)."""
    return {name: r * (i + o) for name, (i, o) in module_shapes(arch).items()}


def lora_params(arch: Architecture, r: int, targets: Iterable[str]) -> int:
    """Trainable parameters of a LoRA adapter on `targets` in every block (peft's count, exactly)."""
    _check_rank(r)
    per = lora_params_per_module(arch, r)
    return arch.n_layers * sum(per[t] for t in check_targets(arch, targets))


def _check_rank(r: int) -> None:
    if not isinstance(r, int) or r < 1:
        raise BudgetError(f"The rank r must be a positive integer, not {r!r}.")


def scaling(r: int, alpha: float, rslora: bool = False) -> float:
    """How strongly the update BA is added: α/r (LoRA, Hu et al. 2021) or α/√r (rsLoRA, Kalajdzievski 2023)."""
    _check_rank(r)
    return alpha / math.sqrt(r) if rslora else alpha / r


@dataclass(frozen=True)
class MemoryEstimate:
    """Training memory (bytes) of one method, split the way it is usually explained."""

    method: str
    weights: int
    gradients: int
    optimizer: int
    activations: int
    backward_temp: int = 0  # first-reached gradients (output head) alive with all activations
    step_temp: int = 0  # the optimizer step's largest temporary

    @property
    def total(self) -> int:
        """Plain sum of weights, gradients, optimizer state and activations (the textbook figure)."""
        return self.weights + self.gradients + self.optimizer + self.activations

    @property
    def peak(self) -> int:
        """Estimated peak: gradients and activations mostly do not coexist (see the module docstring)."""
        grow = max(self.gradients + self.step_temp, self.activations + self.backward_temp)
        return self.weights + self.optimizer + grow

    def parts(self) -> dict[str, int]:
        return {"weights": self.weights, "gradients": self.gradients, "optimizer": self.optimizer,
                "activations": self.activations}

    def fits(self, gib: float) -> bool:
        """Does the estimated peak fit in `gib` GiB?"""
        return self.peak <= gib * GIB


def activation_bytes(arch: Architecture, method: str, targets: Iterable[str], r: int, tokens: int,
                     precision: str = "fp32") -> int:
    """Bytes autograd keeps for backward over `tokens` (batch x seq) tokens, plus the loss's log-softmax."""
    p = _precision_bytes(precision)
    d, hd, ff = arch.d_model, arch.hd, arch.d_ff
    q_w, kv_w = arch.n_heads * hd, arch.n_kv_heads * hd
    attn = 2 * q_w + 2 * kv_w + arch.n_heads + 2  # q, attention output, k, v, log-sum-exp, 2 norm rsqrt
    mlp_kept = 3 * ff if arch.mlp == "gated" else ff  # gate, silu(gate), up (gated) / up (plain)
    if method == "full":
        per_token = 6 * d + attn + mlp_kept + ff  # norm inputs+outputs, block inputs, down_proj input
        final = 3 * d + 1
    else:
        t = set(check_targets(arch, targets))
        per_token = 2 * d + attn + mlp_kept + r * len(t)
        per_token += d if t & {"q_proj", "k_proj", "v_proj"} else 0
        per_token += d if t & {"gate_proj", "up_proj"} else 0
        per_token += ff if "down_proj" in t else 0
        final = 0  # the final norm keeps d + 1 per token; the first block's norm keeps nothing (no grad there)
    extra_norms = arch.norms_per_layer - 2  # Gemma 3: norms before and after attention and MLP
    qk = q_w + kv_w if arch.qk_norm else 0
    wide = 2 if method == "full" else 1  # full FT also keeps each norm's output (its weight trains)
    per_token += wide * (extra_norms * d + qk) + extra_norms
    saved = tokens * p * (arch.n_layers * per_token + final)
    return saved + tokens * arch.vocab * 4  # fp32 log-softmax of the loss


def _precision_bytes(precision: str) -> int:
    if precision not in PRECISIONS:
        raise BudgetError(f"precision must be one of {list(PRECISIONS)}, not {precision!r} "
                          "(a T4 has no bf16: use fp16 there).")
    return PRECISIONS[precision]


def memory(arch: Architecture | str, method: str = "lora", r: int = 8, targets: Iterable[str] = ("q_proj", "v_proj"),
           batch: int = 1, seq_len: int = 256, precision: str = "fp32", optimizer: str = "adamw",
           double_quant: bool = True) -> MemoryEstimate:
    """Estimated training memory of `method` ("full", "lora", "qlora") for one setting."""
    arch = preset(arch)
    if method not in METHODS:
        raise BudgetError(f"method must be one of {list(METHODS)}, not {method!r}.")
    if optimizer not in OPTIMIZERS:
        raise BudgetError(f"optimizer must be one of {list(OPTIMIZERS)}, not {optimizer!r}.")
    if batch < 1 or seq_len < 1:
        raise BudgetError(f"batch and seq_len must be >= 1 (got batch={batch}, seq_len={seq_len}).")
    if method == "qlora" and precision == "fp32":
        precision = "fp16"  # QLoRA computes in half precision (bnb_4bit_compute_dtype)
    p = _precision_bytes(precision)
    tokens = batch * seq_len
    total = total_params(arch)
    logits_grad = 2 * tokens * arch.vocab * 4  # d(loss)/d(log-softmax) and d(loss)/d(logits), fp32
    acts = activation_bytes(arch, method, targets, r, tokens, precision)
    state = OPTIMIZERS[optimizer]
    if method == "full":
        master = 4 if p < 4 else 0  # mixed precision: fp32 master weights live with the optimizer
        head = arch.vocab * arch.d_model
        return MemoryEstimate(method, weights=total * p, gradients=total * p,
                              optimizer=total * (state + master), activations=acts,
                              backward_temp=logits_grad + head * p, step_temp=head * 4)
    adapter = lora_params(arch, r, targets)
    if method == "lora":
        base = total * p
    else:
        quantised = arch.n_layers * block_linear_params(arch)
        constant_bits = (8 / NF4_BLOCK + 32 / (NF4_BLOCK * 256)) if double_quant else 32 / NF4_BLOCK
        base = math.ceil(quantised * (0.5 + constant_bits / 8)) + (total - quantised) * p
    largest = max(r * max(io) for io in module_shapes(arch).values())
    return MemoryEstimate(method, weights=base + adapter * 4, gradients=adapter * 4, optimizer=adapter * state,
                          activations=acts, backward_temp=logits_grad, step_temp=largest * 4)


@dataclass(frozen=True)
class Budget:
    """Everything the playground shows for one setting of (architecture, r, α, targets, batch, ...)."""

    arch: Architecture
    r: int
    alpha: float
    targets: tuple[str, ...]
    batch: int
    seq_len: int
    precision: str
    optimizer: str
    total_params: int
    trainable: int
    scale: float  # α/r
    rs_scale: float  # α/√r (rsLoRA)
    adapter_bytes: int  # adapter weights saved in fp32 safetensors (header not counted)
    memory: dict[str, MemoryEstimate] = field(default_factory=dict)

    @property
    def share(self) -> float:
        """Trainable parameters as a fraction of the base model."""
        return self.trainable / self.total_params

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) rows for a summary table."""
        gib = {m: f"{e.peak / GIB:,.2f} GiB" for m, e in self.memory.items()}
        return [
            ("model", self.arch.name),
            ("base parameters", f"{self.total_params:,}"),
            ("trainable (LoRA)", f"{self.trainable:,}"),
            ("share trainable", f"{100 * self.share:.3f}%"),
            ("adapter on disk", human_bytes(self.adapter_bytes)),
            ("α/r (LoRA scale)", f"{self.scale:g}"),
            ("α/√r (rsLoRA)", f"{self.rs_scale:.3g}"),
            *[(f"peak memory, {m}", gib[m]) for m in self.memory],
        ]


def budget(arch: Architecture | str, r: int = 8, alpha: float = 16, targets: Iterable[str] = ("q_proj", "v_proj"),
           batch: int = 1, seq_len: int = 256, precision: str = "fp32", optimizer: str = "adamw") -> Budget:
    """Parameter counts, scales and memory estimates (full / LoRA / QLoRA) for one setting."""
    arch = preset(arch)
    targets = check_targets(arch, targets)
    if alpha <= 0:
        raise BudgetError(f"alpha must be positive, not {alpha!r}.")
    trainable = lora_params(arch, r, targets)
    kw = dict(r=r, targets=targets, batch=batch, seq_len=seq_len, precision=precision, optimizer=optimizer)
    return Budget(
        arch=arch, r=r, alpha=alpha, targets=targets, batch=batch, seq_len=seq_len, precision=precision,
        optimizer=optimizer, total_params=total_params(arch), trainable=trainable, scale=scaling(r, alpha),
        rs_scale=scaling(r, alpha, rslora=True), adapter_bytes=trainable * 4,
        memory={m: memory(arch, m, **kw) for m in METHODS},
    )


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
