"""GPU check for Lab 1: steps/s and peak memory of LoRA vs full fine-tuning on a SmolLM2-135M-shaped model.

No Hub is needed: the model has SmolLM2-135M's shapes (`lorajam.budget` preset) and random weights. Precision
follows the lab's runtime policy: fp16 below compute capability 8.0 (T4), bf16 from 8.0, fp32 on CPU. As in the
lab, LoRA keeps the base weights in that precision with fp32 adapters under autocast; full fine-tuning keeps fp32
master weights under autocast (what `Trainer(fp16=True)` / `bf16=True` does). Both use AdamW and the lab's batch
shape (16 x 64 tokens, the first half of each row masked like a prompt).

With `--notebook` it also runs the lab's solution notebook headless on that random model (saved with jam-tiny's
tokenizer), which exercises the GPU code path of the lab (mixed-precision `Trainer`, merge checks).

    python scripts/gpu_check_lab1.py                 # on the GPU machine
    python scripts/gpu_check_lab1.py --tiny          # CPU smoke test: 2 layers, small batch, 3 steps
    python scripts/gpu_check_lab1.py --notebook --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

PRESET = "SmolLM2-135M"


def precision_for(device: str, requested: str):
    """torch dtype: the lab's policy (`lorajam.runtime.choose_precision`) unless `requested` says otherwise."""
    import torch

    from lorajam import runtime

    if requested != "auto":
        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[requested]
    capability = torch.cuda.get_device_capability(0) if device == "cuda" else None
    return runtime.choose_precision(capability)


def make_batch(vocab: int, batch: int, seq_len: int, seed: int = 0) -> dict:
    import torch

    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (batch, seq_len), generator=gen)
    labels = ids.clone()
    labels[:, : seq_len // 2] = -100  # the prompt half is masked, as in the lab
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def build(method: str, layers: int | None, device: str, dtype, r: int, targets: list[str]):
    """Random SmolLM2-shaped model for `method` ("lora" or "full") in the lab's weight precision."""
    import torch

    from lorajam import budget, measure

    arch = budget.preset(PRESET)
    if layers:
        arch = dataclasses.replace(arch, n_layers=layers)
    model = measure.random_model(arch)
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model = model.to(dtype)  # base weights in half precision; peft keeps the adapters in fp32
        model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets, lora_dropout=0.05,
                                                 task_type="CAUSAL_LM"))
    else:
        model = model.to(torch.float32)  # fp32 master weights, autocast does the half-precision math
    return model.to(device), arch


def measure_method(method: str, args: argparse.Namespace, device: str, dtype) -> dict:
    import torch

    from lorajam import measure

    model, arch = build(method, args.layers, device, dtype, args.r, args.targets)
    batch = make_batch(arch.vocab, args.batch, args.seq_len)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    autocast = torch.autocast(device, dtype=dtype, enabled=dtype != torch.float32)
    with autocast:
        result = measure.measure_training_step(model, batch, steps=args.steps)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    sps = 1.0 / result["seconds_per_step"]
    return {"method": method, "trainable_parameters": trainable, "steps_per_second": sps,
            "seconds_per_step": result["seconds_per_step"], "peak_bytes": result["peak_bytes"],
            "how": result["how"], "final_loss": result["losses"][-1]}


def run_notebook(args: argparse.Namespace, dtype) -> dict:
    """Run the lab's solution notebook on a saved random SmolLM2-shaped model; return its wall seconds."""
    import torch
    from transformers import AutoTokenizer

    from lorajam import budget, course, measure, models, runtime

    arch = budget.preset(PRESET)
    if args.layers:
        arch = dataclasses.replace(arch, n_layers=args.layers)
    folder = Path(tempfile.mkdtemp(prefix="smollm2-random-"))
    measure.random_model(arch).to(torch.float32).save_pretrained(folder)
    AutoTokenizer.from_pretrained(models.resolve(models.JAM_TINY)).save_pretrained(folder)
    params = {"QUICK": True, "MODEL": str(folder), "MAX_STEPS": args.notebook_steps,
              "LORA_R": args.r, "TARGET_MODULES": args.targets}
    _, seconds = course.execute_notebook(course.REPO_ROOT / "solutions" / "lab1_sft" / "lab1_sft.ipynb",
                                         parameters=params, timeout=600)
    return {"seconds": seconds, "steps": args.notebook_steps, "precision": runtime.dtype_name(dtype),
            "model_dir": str(folder)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="CPU smoke test: 2 layers, batch 4 x 32, 3 steps")
    parser.add_argument("--layers", type=int, default=None, help="shorten the model to this many blocks")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="measured optimizer steps per method (>= 2)")
    parser.add_argument("--r", type=int, default=8)
    parser.add_argument("--targets", nargs="+", default=["q_proj", "v_proj"])
    parser.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16"], default="auto")
    parser.add_argument("--notebook", action="store_true", help="also run the lab notebook on the random model")
    parser.add_argument("--notebook-steps", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    if args.tiny:
        args.layers, args.batch, args.seq_len, args.steps = args.layers or 2, 4, 32, 3
        args.notebook_steps = min(args.notebook_steps, 3)
    if args.steps < 2:
        parser.error("--steps must be >= 2 (the first step creates the optimizer state)")

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = precision_for(device, args.precision)
    if device == "cpu" and dtype == torch.float16:
        parser.error("fp16 on CPU is not supported by torch: use --precision fp32 or bf16")
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    shape = f"{PRESET}{f' ({args.layers} layers)' if args.layers else ''}"
    print(f"{shape}, random weights | {gpu} | {str(dtype).removeprefix('torch.')} | batch {args.batch} x "
          f"{args.seq_len} | {args.steps} steps | LoRA r={args.r} on {args.targets}")
    start = time.perf_counter()
    rows = [measure_method(method, args, device, dtype) for method in ("lora", "full")]
    print(f"\n{'method':6} {'trainable':>12} {'steps/s':>9} {'s/step':>9} {'peak memory':>12}  loss")
    for row in rows:
        peak = f"{row['peak_bytes'] / 2**30:.2f} GiB" if row["peak_bytes"] else "n/a"
        print(f"{row['method']:6} {row['trainable_parameters']:>12,} {row['steps_per_second']:>9.2f} "
              f"{row['seconds_per_step']:>9.4f} {peak:>12}  {row['final_loss']:.3f}")
    lora, full = rows
    ratios = {"speed_lora_over_full": lora["steps_per_second"] / full["steps_per_second"]}
    if lora["peak_bytes"] and full["peak_bytes"]:
        ratios["memory_lora_over_full"] = lora["peak_bytes"] / full["peak_bytes"]
    print("\n" + ", ".join(f"{k} = {v:.2f}" for k, v in ratios.items()) + f" ({time.perf_counter() - start:.1f} s)")
    result = {"device": gpu, "precision": str(dtype), "shape": shape, "batch": args.batch, "seq_len": args.seq_len,
              "rows": rows, "ratios": ratios}
    if args.notebook:
        result["notebook"] = run_notebook(args, dtype)
        print(f"lab notebook on the random model: {result['notebook']['seconds']:.1f} s "
              f"({args.notebook_steps} training steps)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
