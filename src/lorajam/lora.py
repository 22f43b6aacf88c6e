"""A from-scratch LoRA layer (Hu et al. 2021, arXiv:2106.09685) and helpers to put it into a model.

`LoRALinear` wraps a frozen `nn.Linear` and adds a trainable low-rank update:

    y = W x + b + scaling * B (A dropout(x)),   scaling = alpha / r   (rsLoRA: alpha / sqrt(r))

`A` (r x in) starts Kaiming-uniform and `B` (out x r) starts at zero, exactly like peft's `lora.Linear`, so the
wrapped layer computes the same output as the base layer at step 0. Names follow peft (`base_layer`, `lora_A`,
`lora_B`, `scaling`, `merge`, `unmerge`) so a learner can read peft's code next to this one.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "LoRALinear",
    "TargetModulesNotFoundError",
    "inject_lora",
    "linear_module_names",
    "lora_modules",
    "lora_state_dict",
    "merge_and_unload",
    "merge_lora",
    "print_trainable_parameters",
    "trainable_parameters",
    "unmerge_lora",
]

EXCLUDED_BY_DEFAULT = ("lm_head",)  # the output projection: tied to the embeddings in many models


class TargetModulesNotFoundError(ValueError):
    """A `target_modules` entry matched no `nn.Linear` in the model; the message lists the names that exist."""


class LoRALinear(nn.Module):
    """`base_layer(x) + scaling * lora_B(lora_A(dropout(x)))` with the base layer frozen.

    Args:
        base_layer: the `nn.Linear` to adapt. Its weight and bias are frozen (`requires_grad=False`).
        r: rank of the update (number of rows of `A`, columns of `B`).
        alpha: scale numerator; `scaling = alpha / r` (or `alpha / sqrt(r)` with `use_rslora`).
        dropout: dropout probability on the input of the LoRA branch only (the base path never sees it).
        use_rslora: rank-stabilised scaling `alpha / sqrt(r)` (Kalajdzievski 2023), as peft's `use_rslora`.
    """

    def __init__(
        self, base_layer: nn.Linear, r: int = 8, alpha: float = 16, dropout: float = 0.0, use_rslora: bool = False
    ) -> None:
        super().__init__()
        if not isinstance(base_layer, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base_layer).__name__}")
        if not (isinstance(r, int) and r > 0):
            raise ValueError(f"r (the LoRA rank) must be a positive integer, got {r!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.base_layer = base_layer
        for param in base_layer.parameters():
            param.requires_grad_(False)
        self.in_features, self.out_features = base_layer.in_features, base_layer.out_features
        self.r, self.alpha, self.use_rslora = r, alpha, use_rslora
        self.scaling = alpha / math.sqrt(r) if use_rslora else alpha / r
        factory = {"device": base_layer.weight.device, "dtype": base_layer.weight.dtype}
        self.lora_A = nn.Parameter(torch.empty(r, self.in_features, **factory))
        self.lora_B = nn.Parameter(torch.empty(self.out_features, r, **factory))
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False
        self.reset_lora_parameters()

    def reset_lora_parameters(self) -> None:
        """A: Kaiming-uniform with a=sqrt(5) (nn.Linear's default, as peft); B: zeros, so BA = 0 at start."""
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B)

    def delta_weight(self) -> torch.Tensor:
        """The update this adapter adds to the base weight: `scaling * B @ A` (shape out x in)."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base_layer(x)
        if self.merged:  # the update already lives in base_layer.weight
            return result
        lora_out = F.linear(F.linear(self.lora_dropout(x), self.lora_A), self.lora_B)
        return result + lora_out * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the update into the base weight: one matmul per forward again, zero inference overhead."""
        if self.merged:
            warnings.warn("LoRALinear.merge(): already merged, nothing to do", stacklevel=2)
            return
        weight = self.base_layer.weight
        weight += self.delta_weight().to(weight.dtype)
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Subtract the update again so `A` and `B` can keep training (exact up to float rounding)."""
        if not self.merged:
            warnings.warn("LoRALinear.unmerge(): not merged, nothing to do", stacklevel=2)
            return
        weight = self.base_layer.weight
        weight -= self.delta_weight().to(weight.dtype)
        self.merged = False

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, r={self.r}, "
            f"alpha={self.alpha}, scaling={self.scaling:.4g}, merged={self.merged}"
        )


def _parent_and_leaf(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    parent_name, _, leaf = name.rpartition(".")
    return (model.get_submodule(parent_name) if parent_name else model), leaf


def lora_modules(model: nn.Module) -> dict[str, LoRALinear]:
    """Every `LoRALinear` in `model`, by full module name."""
    return {name: module for name, module in model.named_modules() if isinstance(module, LoRALinear)}


def _linear_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Full name -> module for every adaptable linear: plain `nn.Linear` and already-wrapped `LoRALinear`."""
    wrapped = lora_modules(model)
    found: dict[str, nn.Module] = dict(wrapped)
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and name.rpartition(".")[0] not in wrapped:
            found[name] = module
    return found


def linear_module_names(model: nn.Module, exclude: Iterable[str] = EXCLUDED_BY_DEFAULT) -> list[str]:
    """Sorted unique leaf names of the model's linear layers (e.g. `q_proj`), without `lm_head`.

    These are the names `target_modules` expects, in `inject_lora` and in peft's `LoraConfig`.
    """
    excluded = set(exclude)
    return sorted({name.rpartition(".")[2] for name in _linear_modules(model)} - excluded - {""})


def _matches(name: str, target: str) -> bool:
    """peft's rule for a list entry: the full name equals it, or ends with `.` + it."""
    return name == target or name.endswith("." + target)


def _not_found(model: nn.Module, what: str) -> TargetModulesNotFoundError:
    names = linear_module_names(model)
    return TargetModulesNotFoundError(
        f"target modules not found: {what}. This model's linear layers are named {names}. "
        "Pick from those (e.g. target_modules=('q_proj', 'v_proj') for Llama-style models); "
        "`linear_module_names(model)` prints this list."
    )


def inject_lora(
    model: nn.Module,
    target_modules: str | Iterable[str] = ("q_proj", "v_proj"),
    r: int = 8,
    alpha: float = 16,
    dropout: float = 0.0,
    use_rslora: bool = False,
    freeze_base: bool = True,
) -> nn.Module:
    """Replace the matching `nn.Linear` layers of `model` by `LoRALinear`, in place; returns `model`.

    `target_modules` works like peft's: a list/tuple of names (a module matches when its full name equals an
    entry or ends with `.entry`), a single string used as a regular expression on the full name, or
    `"all-linear"` (every linear layer except `lm_head`). With `freeze_base` (default, as peft) every other
    parameter of the model is frozen, so only `lora_A`/`lora_B` train.

    Raises `TargetModulesNotFoundError` (listing the available names) when an entry matches nothing.
    """
    candidates = _linear_modules(model)
    if isinstance(target_modules, str):
        if target_modules == "all-linear":
            chosen = [n for n in candidates if n.rpartition(".")[2] not in EXCLUDED_BY_DEFAULT]
        else:
            chosen = [n for n in candidates if re.fullmatch(target_modules, n)]
        if not chosen:
            raise _not_found(model, f"the pattern {target_modules!r} matched no linear layer")
    else:
        targets = list(target_modules)
        if not targets:
            raise ValueError("target_modules is empty: name at least one linear layer, e.g. ('q_proj', 'v_proj')")
        missing = [t for t in targets if not any(_matches(n, t) for n in candidates)]
        if missing:
            non_linear = [t for t in missing if any(_matches(n, t) for n, _ in model.named_modules())]
            hint = f" ({non_linear} exist but are not nn.Linear layers)" if non_linear else ""
            raise _not_found(model, f"{missing} matched no linear layer{hint}")
        chosen = [n for n in candidates if any(_matches(n, t) for t in targets)]
    already = [n for n in chosen if isinstance(candidates[n], LoRALinear)]
    if already:
        raise ValueError(
            f"{already[:3]}{' ...' if len(already) > 3 else ''} already have LoRA. Call merge_and_unload(model) "
            "first, or start again from a fresh copy of the base model."
        )
    if freeze_base:
        for param in model.parameters():
            param.requires_grad_(False)
    for name in chosen:
        parent, leaf = _parent_and_leaf(model, name)
        setattr(parent, leaf, LoRALinear(candidates[name], r=r, alpha=alpha, dropout=dropout, use_rslora=use_rslora))
    return model


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """`(trainable, total)` parameter counts (total includes the adapters, as in peft)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def print_trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """Print the counts in the format of peft's `print_trainable_parameters`; returns them too."""
    trainable, total = trainable_parameters(model)
    share = 100 * trainable / total if total else 0.0
    print(f"trainable params: {trainable:,d} || all params: {total:,d} || trainable%: {share:.4f}")
    return trainable, total


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter weights (`...lora_A`, `...lora_B`): what you save and share instead of the model."""
    return {k: v for k, v in model.state_dict().items() if k.rpartition(".")[2] in ("lora_A", "lora_B")}


def merge_lora(model: nn.Module) -> nn.Module:
    """`merge()` every unmerged `LoRALinear` in `model`; returns `model`."""
    for module in lora_modules(model).values():
        if not module.merged:
            module.merge()
    return model


def unmerge_lora(model: nn.Module) -> nn.Module:
    """`unmerge()` every merged `LoRALinear` in `model`; returns `model`."""
    for module in lora_modules(model).values():
        if module.merged:
            module.unmerge()
    return model


def merge_and_unload(model: nn.Module) -> nn.Module:
    """Merge every adapter and put the plain `nn.Linear` back: the model is the base architecture again."""
    for name, module in lora_modules(model).items():
        if not module.merged:
            module.merge()
        parent, leaf = _parent_and_leaf(model, name)
        setattr(parent, leaf, module.base_layer)
    return model
