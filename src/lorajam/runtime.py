"""One place that decides model, device and precision for every notebook.

A GPU runtime with Hub access gets a real Hub model (default SmolLM2-135M); offline, on CPU, in CI and under
nbgrader the bundled `jam-tiny` is used. An explicit choice always wins. Precision follows the GPU's compute
capability, not `torch.cuda.is_bf16_supported()`, which answers True on a T4 (7.5) although bf16 is emulated there.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
from dataclasses import dataclass, field
from importlib import metadata

from lorajam import models

HUB_HOST = "huggingface.co"
BF16_MIN_CAPABILITY = (8, 0)  # Ampere and newer have native bf16


class RuntimeSetupError(RuntimeError):
    """A runtime choice that cannot work here; the message says what to do instead."""


@dataclass(frozen=True)
class RuntimeInfo:
    """What this machine offers, read once."""

    python: str
    on_colab: bool
    device: str  # "cuda" or "cpu"
    gpu_name: str | None = None
    capability: tuple[int, int] | None = None
    free_memory_gb: float | None = None
    total_memory_gb: float | None = None
    hub_reachable: bool | None = None  # None: not checked
    hub_offline_env: bool = False
    autograding: bool = False


@dataclass
class Runtime:
    """The decision: which model, on which device, in which precision, and why."""

    info: RuntimeInfo
    model_name: str
    device: str
    dtype: object  # torch.dtype
    reason: str
    warnings: list[str] = field(default_factory=list)

    @property
    def precision(self) -> str:
        return dtype_name(self.dtype)

    @property
    def uses_hub_model(self) -> bool:
        return self.model_name != models.JAM_TINY and models.is_hub_id(self.model_name)

    def banner(self) -> str:
        where = "Colab" if self.info.on_colab else "local"
        device = self.info.gpu_name or "CPU" if self.device == "cuda" else "CPU"
        return (
            f"lorajam {package_version('lorajam')} | {where} | {device} | {self.precision} | "
            f"model {self.model_name} ({self.reason})"
        )

    def load(self):
        """`(model, tokenizer)` for the chosen model, on the chosen device and precision."""
        return models.load(self.model_name, device=self.device, dtype=self.dtype)


def package_version(package: str) -> str:
    """Installed version of `package`, or "not installed"."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def dtype_name(dtype) -> str:
    return {"torch.float32": "fp32", "torch.float16": "fp16", "torch.bfloat16": "bf16"}.get(str(dtype), str(dtype))


def on_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def autograding() -> bool:
    """True while nbgrader executes the notebook (it sets NBGRADER_EXECUTION)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def hub_offline_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_reachable(timeout: float = 1.5) -> bool:
    """Can we open a TCP connection to the Hub? Always False when HF_HUB_OFFLINE is set."""
    if hub_offline_env():
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def detect(check_hub: bool = True, hub_timeout: float = 1.5) -> RuntimeInfo:
    """Read the machine: Colab or not, CUDA device, capability, memory, Hub, nbgrader."""
    import torch

    gpu_name = capability = free_gb = total_gb = None
    device = "cpu"
    if torch.cuda.is_available():
        device = "cuda"
        gpu_name = torch.cuda.get_device_name(0)
        capability = tuple(torch.cuda.get_device_capability(0))
        free, total = torch.cuda.mem_get_info(0)
        free_gb, total_gb = free / 2**30, total / 2**30
    return RuntimeInfo(
        python=platform.python_version(),
        on_colab=on_colab(),
        device=device,
        gpu_name=gpu_name,
        capability=capability,
        free_memory_gb=free_gb,
        total_memory_gb=total_gb,
        hub_reachable=hub_reachable(hub_timeout) if check_hub else None,
        hub_offline_env=hub_offline_env(),
        autograding=autograding(),
    )


def choose_precision(capability: tuple[int, int] | None):
    """fp32 on CPU, fp16 below compute capability 8.0 (T4, V100), bf16 from 8.0 (A100, L4, H100)."""
    import torch

    if capability is None:
        return torch.float32
    return torch.bfloat16 if tuple(capability) >= BF16_MIN_CAPABILITY else torch.float16


def _cached_on_disk(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # noqa: BLE001 - an unreadable cache simply means "not cached"
        return False


def choose_model(requested: str, info: RuntimeInfo) -> tuple[str, str]:
    """Return `(model name, reason)`. `requested` is "auto", "jam-tiny", a Hub id or a local folder."""
    requested = (requested or "auto").strip()
    if info.autograding and requested != "auto" and models.is_hub_id(requested):
        return models.JAM_TINY, f"grading runs offline on CPU, so {requested} is replaced by the bundled model"
    if requested != "auto":
        models.resolve(requested)  # raises UnknownModelError with a fix for bad names
        if models.is_hub_id(requested) and not info.hub_reachable and not _cached_on_disk(requested):
            why = "HF_HUB_OFFLINE is set" if info.hub_offline_env else f"{HUB_HOST} cannot be reached"
            raise RuntimeSetupError(
                f"You asked for the Hub model {requested!r}, but {why} and it is not in the local cache. "
                f"Use MODEL = 'jam-tiny' (bundled, works offline) or connect to the internet and try again."
            )
        return requested, "your choice"
    if info.autograding:
        return models.JAM_TINY, "auto: grading runs offline on CPU"
    if info.device != "cuda":
        return models.JAM_TINY, "auto: no GPU, bundled model"
    if not info.hub_reachable:
        return models.JAM_TINY, "auto: Hub unreachable, bundled model"
    return models.DEFAULT_HUB_MODEL, "auto: GPU runtime with Hub access"


def precision_warnings(info: RuntimeInfo) -> list[str]:
    """Advice a learner should see about this runtime, each with the fix."""
    notes: list[str] = []
    if info.capability is not None and tuple(info.capability) < BF16_MIN_CAPABILITY:
        notes.append(
            f"{info.gpu_name} (compute capability {info.capability[0]}.{info.capability[1]}) has no native bf16 "
            "(torch.cuda.is_bf16_supported() may still say True): train in fp16 "
            "(TrainingArguments(fp16=True, bf16=False)); lorajam picks fp16 for you."
        )
    if info.device == "cpu":
        fix = "Runtime > Change runtime type > T4 GPU" if info.on_colab else "a Colab GPU runtime"
        notes.append(f"No GPU: the course runs on the bundled jam-tiny on CPU. For a real model use {fix}.")
    if info.hub_reachable is False and not info.autograding:
        notes.append("Hugging Face Hub not reachable: 'auto' uses the bundled jam-tiny (offline is fine).")
    return notes


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA), like transformers' `set_seed`, without importing it."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def setup(model: str = "auto", seed: int | None = 0, precision: str | None = None, quiet: bool = False) -> Runtime:
    """Decide model/device/precision, seed everything, print the one-line banner, return the `Runtime`.

    `precision` ("fp32", "fp16", "bf16") overrides the automatic choice.
    """
    import torch

    info = detect(check_hub=model == "auto" or models.is_hub_id(model or ""))
    name, reason = choose_model(model, info)
    dtype = choose_precision(info.capability)
    if precision is not None:
        table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
        if precision not in table:
            raise RuntimeSetupError(f"precision must be one of {sorted(table)}, not {precision!r}")
        dtype = table[precision]
        if info.device == "cpu" and dtype is torch.float16:
            raise RuntimeSetupError("fp16 training on CPU is not supported by torch: use precision='fp32'.")
    if seed is not None:
        seed_everything(seed)
    rt = Runtime(info, name, info.device, dtype, reason, precision_warnings(info))
    if not quiet:
        print(rt.banner())
        for note in rt.warnings:
            if info.device != "cpu" or "No GPU" not in note or info.on_colab:
                print(f"  note: {note}")
    return rt
