"""From-scratch `lorajam.lora.LoRALinear` vs peft's `lora.Linear` on one layer, CPU, same process.

Shapes: a 2048 x 2048 linear layer, r = 8, input batch 8 x 128 tokens (fp32). Measured, per round:

- training step (forward + backward, input gradient included as inside a model): ours vs peft (goal <= 1.05);
- inference (no grad): base `nn.Linear`, ours merged (goal 1.00 +- 0.03 of base), ours and peft unmerged.

Every round runs each variant (the fastest of a few back-to-back calls) in a fresh random order, so background
load on a shared machine hits every variant alike; ratios are medians of the per-round (paired) ratios, with their
interquartile range.
By default one torch thread and process CPU time, so other jobs on a shared machine barely move the figures;
`--threads 0 --clock wall` measures elapsed time with torch's own thread count (for a quiet machine).
Run: `.venv/bin/python benchmarks/lora_layer.py [--rounds 40] [--inner 3] [--threads 1] [--clock cpu]`.
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import time
from collections.abc import Callable

import torch
from peft import LoraConfig, inject_adapter_in_model
from torch import nn
from tqdm.auto import tqdm

from lorajam.lora import LoRALinear

D, R, ALPHA, BATCH, TOKENS = 2048, 8, 16, 8, 128
GOALS = {  # name: (numerator, denominator, low, high)
    "from-scratch / peft, fwd+bwd": ("train ours", "train peft", 0.0, 1.05),
    "merged / base, inference": ("infer ours merged", "infer base", 0.97, 1.03),
    "unmerged / base, inference": ("infer ours unmerged", "infer base", None, None),
    "from-scratch / peft, unmerged inference": ("infer ours unmerged", "infer peft unmerged", None, None),
}


def build_layers(seed: int = 0) -> dict[str, nn.Module]:
    torch.manual_seed(seed)
    base = nn.Linear(D, D)
    holder = nn.Module()
    holder.proj = copy.deepcopy(base)
    inject_adapter_in_model(LoraConfig(r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=["proj"]), holder)
    peft_layer = holder.proj
    with torch.no_grad():  # a trained-looking adapter: B non-zero
        peft_layer.lora_B["default"].weight.normal_(std=0.02)
    ours = LoRALinear(copy.deepcopy(base), r=R, alpha=ALPHA)
    with torch.no_grad():
        ours.lora_A.copy_(peft_layer.lora_A["default"].weight)
        ours.lora_B.copy_(peft_layer.lora_B["default"].weight)
    merged = copy.deepcopy(ours)
    merged.merge()
    x = torch.randn(BATCH, TOKENS, D)
    with torch.no_grad():  # same maths before timing anything
        assert (ours(x) - peft_layer(x)).abs().max() <= 1e-5
        assert (merged(x) - peft_layer(x)).abs().max() <= 1e-3
    return {"base": base, "ours": ours, "peft": peft_layer, "merged": merged}


def make_variants(layers: dict[str, nn.Module]) -> dict[str, Callable[[], None]]:
    x_train = torch.randn(BATCH, TOKENS, D, requires_grad=True)  # inside a model the input needs a gradient too
    grad_out = torch.randn(BATCH, TOKENS, D)
    x_infer = torch.randn(BATCH, TOKENS, D)

    def train(layer: nn.Module) -> Callable[[], None]:
        params = [p for p in layer.parameters() if p.requires_grad]

        def step() -> None:
            layer(x_train).backward(grad_out)
            x_train.grad = None
            for p in params:
                p.grad = None

        return step

    def infer(layer: nn.Module) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                layer(x_infer)

        return run

    return {
        "train ours": train(layers["ours"]),
        "train peft": train(layers["peft"]),
        "infer base": infer(layers["base"]),
        "infer ours merged": infer(layers["merged"]),
        "infer ours unmerged": infer(layers["ours"]),
        "infer peft unmerged": infer(layers["peft"]),
    }


def measure(
    variants: dict[str, Callable[[], None]],
    rounds: int,
    warmup: int,
    inner: int,
    clock: Callable[[], float] = time.perf_counter,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Per round and variant: the fastest of `inner` back-to-back calls (a slice of background load only adds)."""
    order, rng, results = list(variants), random.Random(seed), []
    for index in tqdm(range(warmup + rounds), desc="rounds", leave=False):
        rng.shuffle(order)
        times = {}
        for name in order:
            best = float("inf")
            for _ in range(inner):
                start = clock()
                variants[name]()
                best = min(best, clock() - start)
            times[name] = best
        if index >= warmup:
            results.append(times)
    return results


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q1, q2, q3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40, help="measured rounds (each runs every variant once)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--inner", type=int, default=3, help="back-to-back calls per variant and round (min kept)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's choice)")
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: process CPU time, steady while other jobs share the cores (use with --threads 1); wall: elapsed",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads | layer {D}x{D}, r={R}, alpha={ALPHA}, "
          f"input {BATCH}x{TOKENS}x{D} fp32 | {args.rounds} rounds (+{args.warmup} warm-up), order shuffled, "
          f"min of {args.inner} calls, {args.clock} clock")
    variants = make_variants(build_layers())
    results = measure(variants, args.rounds, args.warmup, args.inner, clock)

    print(f"\n{'variant':22} {'median ms':>10} {'IQR ms':>16}")
    for name in variants:
        q1, q2, q3 = quartiles([1000 * r[name] for r in results])
        print(f"{name:22} {q2:>10.2f} {q1:>7.2f} - {q3:<7.2f}")

    print(f"\n{'ratio (paired per round)':40} {'median':>7} {'IQR':>15}  goal")
    failed = False
    for label, (num, den, low, high) in GOALS.items():
        q1, q2, q3 = quartiles([r[num] / r[den] for r in results])
        if high is None:
            goal = f"report ({100 * (q2 - 1):+.1f}%)"
        else:
            ok = (low or 0.0) <= q2 <= high
            failed |= not ok
            goal = f"{'<= ' + format(high, '.2f') if not low else f'{low:.2f}..{high:.2f}'}  {'ok' if ok else 'MISSED'}"
        print(f"{label:40} {q2:>7.3f} {q1:>6.3f} - {q3:<6.3f}  {goal}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
