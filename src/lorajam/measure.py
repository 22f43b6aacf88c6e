"""Measured training memory and step time, to check `lorajam.budget`'s estimates against reality.

API
- `measure_training_step(model, batch, optimizer_factory=None, steps=3) -> dict` runs `steps` training steps
  (forward, backward, optimizer step, zero_grad) and returns `peak_bytes` (peak training memory, weights
  included), `seconds_per_step` (mean over the steps after the first), `first_step_seconds`, `losses`,
  `device`, `how` (how memory was measured) and `param_bytes`.
  - CUDA: `torch.cuda.max_memory_allocated()` after `reset_peak_memory_stats()`: exact allocator bytes.
  - CPU (Linux): torch's CPU allocator keeps no statistics and `tracemalloc` does not see torch's buffers, so we
    read the process's peak resident memory (VmHWM in /proc/self/status), reset just before the run through
    /proc/self/clear_refs, and add the weights resident before it: peak = weights + (VmHWM - VmRSS before).
    (Weights are read once first: safetensors loads them memory-mapped, and untouched pages are not resident.)
    This also counts allocator slack and library scratch buffers, so it is honest but a little high; for clean
    numbers use a fresh process (`measure_in_subprocess`, which also makes glibc return freed buffers at once).
  - Elsewhere (macOS/Windows CPU): `peak_bytes` is None, time is still measured.
- `measure_in_subprocess(model, method, r=8, targets=..., batch=1, seq_len=64, steps=3, device="cpu") -> dict`:
  the same in a fresh Python process, on `jam-tiny` (bundled weights) or a random-weight model of a
  `lorajam.budget` preset (e.g. "SmolLM2-135M"; `layers=` shortens it): full fine-tuning or LoRA (peft), AdamW,
  fp32. Adds `estimate` (budget's peak), `estimate_sum`, `parts` and `error` (estimate / measured - 1).
- `saved_activation_bytes(model, batch) -> int`: bytes autograd keeps for backward in one forward pass (unique
  storages, parameters excluded): the "activations" term of the estimate, measured exactly.
- `random_model(arch)`: a random-weight `*ForCausalLM` with an `Architecture`'s shapes (Llama, Qwen2, Gemma 3).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from lorajam import budget

_PROC_STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int | None:
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", _PROC_STATUS.read_text(), re.M)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux); False where that is impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _tensor_bytes(tensors: Iterable) -> int:
    seen: dict[int, int] = {}
    for t in tensors:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


def default_optimizer(params):
    """AdamW with a small learning rate (what the course uses)."""
    import torch

    return torch.optim.AdamW(params, lr=1e-4)


def _loss(model, batch):
    out = model(**batch)
    return out.loss


_RETURN_DEPTH = 0


@contextlib.contextmanager
def freed_memory_returned() -> Iterator[None]:
    """On Linux/glibc, give freed buffers back to the OS at once, so a run's peak RSS is its own.

    Without this, glibc keeps the buffers of an earlier (bigger) run and reuses them: the next run's peak RSS
    barely moves and its measured memory comes out far too low. Re-entrant; a no-op without glibc.
    """
    global _RETURN_DEPTH
    name = ctypes.util.find_library("c")
    libc = None
    with contextlib.suppress(OSError, TypeError):
        libc = ctypes.CDLL(name) if name else None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        yield
        return
    m_trim_threshold, m_mmap_threshold, default = -1, -3, 128 * 1024
    if _RETURN_DEPTH == 0:
        libc.mallopt(m_mmap_threshold, 64 * 1024)
        libc.mallopt(m_trim_threshold, 0)
    libc.malloc_trim(0)
    _RETURN_DEPTH += 1
    try:
        yield
    finally:
        _RETURN_DEPTH -= 1
        if _RETURN_DEPTH == 0:
            libc.mallopt(m_mmap_threshold, default)
            libc.mallopt(m_trim_threshold, default)


def _measure_training_step(model, batch: dict, optimizer_factory: Callable | None = None, steps: int = 3) -> dict:
    """`measure_training_step` without the allocator setting."""
    import torch

    if steps < 1:
        raise ValueError(f"steps must be >= 1, not {steps}")
    if "labels" not in batch:
        raise ValueError("batch needs 'labels' (e.g. labels=input_ids) so the model returns a loss")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (did you freeze everything?)")
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    param_bytes = _tensor_bytes([*model.parameters(), *model.buffers()])
    optimizer = (optimizer_factory or default_optimizer)(params)
    model.train()
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        how, rss_before = "torch.cuda.max_memory_allocated", None
    else:
        with torch.no_grad():  # weights loaded from safetensors may be memory-mapped: page them in before the
            for t in [*model.parameters(), *model.buffers()]:  # baseline, so weights are not counted twice
                t.sum()
        rss_before = _status_kib("VmRSS")
        how = "process peak RSS (VmHWM) over the run + weights" if rss_before and reset_peak_rss() else None
    times, losses = [], []
    for _ in range(steps):
        start = time.perf_counter()
        loss = _loss(model, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
        losses.append(float(loss.detach()))
        del loss
    if cuda:
        peak = torch.cuda.max_memory_allocated(device)
    elif how:
        peak = param_bytes + _status_kib("VmHWM") - rss_before
    else:
        peak = None
    later = times[1:] or times
    return {"peak_bytes": peak, "seconds_per_step": sum(later) / len(later), "first_step_seconds": times[0],
            "losses": losses, "device": str(device), "how": how, "param_bytes": param_bytes, "steps": steps}


def measure_training_step(model, batch: dict, optimizer_factory: Callable | None = None, steps: int = 3) -> dict:
    """Peak training memory and seconds per step of `steps` optimizer steps on `batch` (see module docstring).

    `batch` holds the model's inputs including `labels`; `optimizer_factory(trainable_params)` builds the optimizer
    (default AdamW). Use steps >= 2: optimizer state is created by the first step, so only later steps show the
    steady-state peak. On CPU, freed memory is handed back to the OS meanwhile so earlier runs do not hide the peak.
    """
    with freed_memory_returned():
        return _measure_training_step(model, batch, optimizer_factory, steps)


def saved_activation_bytes(model, batch: dict) -> int:
    """Bytes of the tensors autograd saves for backward in one forward pass with loss (parameters excluded)."""
    import torch

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = _loss(model, batch)
    del loss
    return sum(saved.values())


def hf_config(arch: budget.Architecture):
    """A transformers config with `arch`'s shapes (Llama by default; Qwen2 / Gemma 3 when the preset says so)."""
    from transformers import Gemma3TextConfig, LlamaConfig, Qwen2Config

    if arch.mlp != "gated":
        raise ValueError(f"{arch.name} is not a Llama-style model (plain MLP); it cannot be built here")
    kw = dict(hidden_size=arch.d_model, num_hidden_layers=arch.n_layers, num_attention_heads=arch.n_heads,
              num_key_value_heads=arch.n_kv_heads, intermediate_size=arch.d_ff, vocab_size=arch.vocab,
              tie_word_embeddings=arch.tied_embeddings, head_dim=arch.hd)
    if arch.qk_norm:
        return Gemma3TextConfig(**kw)
    if arch.qkv_bias:
        return Qwen2Config(**kw)
    return LlamaConfig(**kw)


def random_model(arch: budget.Architecture | str, seed: int = 0):
    """A random-weight causal LM with `arch`'s shapes, fp32, on CPU (no download)."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(hf_config(budget.preset(arch)), dtype=torch.float32)


def build(model: str, method: str, r: int, targets: Iterable[str], alpha: float | None = None,
          layers: int | None = None):
    """(model, Architecture) for a measurement: jam-tiny's bundled weights or a random preset; LoRA via peft.

    `layers` shortens a random preset to that many blocks (quick checks of the same shapes).
    """
    if model == budget.JAM_TINY:
        from lorajam import models

        net, _ = models.load(budget.JAM_TINY)
    else:
        arch = budget.preset(model)
        net = random_model(dataclasses.replace(arch, n_layers=layers) if layers else arch)
    arch = budget.from_config(net.config, name=model)
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        net = get_peft_model(net, LoraConfig(r=r, lora_alpha=alpha or 2 * r, target_modules=list(targets),
                                             lora_dropout=0.0))
    elif method != "full":
        raise ValueError(f"method must be 'full' or 'lora' on CPU, not {method!r}")
    return net, arch


def _run(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    targets = args.targets.split(",")
    if args.warmup:  # load lazy kernels and libraries once, so they are not counted
        warm, _ = build(args.model, args.method, args.r, targets, layers=1)
        warm.to(args.device)
        ids = torch.randint(0, warm.config.vocab_size, (1, 8))
        measure_training_step(warm, {"input_ids": ids, "labels": ids}, steps=2)
        del warm
    net, arch = build(args.model, args.method, args.r, targets, layers=args.layers)
    net.to(args.device)
    ids = torch.randint(0, arch.vocab, (args.batch, args.seq_len))
    result = measure_training_step(net, {"input_ids": ids, "labels": ids}, steps=args.steps)
    est = budget.memory(arch, args.method, r=args.r, targets=targets, batch=args.batch, seq_len=args.seq_len)
    result.update(model=args.model, layers=arch.n_layers, method=args.method, r=args.r, targets=targets,
                  batch=args.batch, seq_len=args.seq_len, estimate=est.peak, estimate_sum=est.total,
                  parts=est.parts())
    if result["peak_bytes"]:
        result["error"] = est.peak / result["peak_bytes"] - 1
    return result


def measure_in_subprocess(model: str, method: str, r: int = 8, targets: Iterable[str] = ("q_proj", "v_proj"),
                          batch: int = 1, seq_len: int = 64, steps: int = 3, threads: int = 2,
                          warmup: bool = True, layers: int | None = None, device: str = "cpu",
                          timeout: float = 600) -> dict:
    """Measure one training setting in a fresh Python process (clean allocator); returns the result dict."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0",
           "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "lorajam.measure", "--model", model, "--method", method, "--r", str(r),
           "--targets", ",".join(targets), "--batch", str(batch), "--seq-len", str(seq_len), "--steps", str(steps),
           "--threads", str(threads)] + ([] if warmup else ["--no-warmup"])
    cmd += ["--layers", str(layers)] if layers else []
    cmd += ["--device", device]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"measurement failed ({' '.join(cmd)}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Measure peak training memory of one setting (prints JSON).")
    parser.add_argument("--model", default=budget.JAM_TINY, help="jam-tiny or a lorajam.budget preset name")
    parser.add_argument("--method", default="lora", choices=["full", "lora"])
    parser.add_argument("--r", type=int, default=8)
    parser.add_argument("--targets", default="q_proj,v_proj")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layers", type=int, default=None, help="shorten a random preset to this many blocks")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda to read the CUDA allocator's peak")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false")
    print(json.dumps(_run(parser.parse_args(argv))))


if __name__ == "__main__":
    main()
