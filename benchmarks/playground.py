"""Notebook 02's playground: slider latency, and lorajam.budget's memory estimate against measured peak memory.

1. Latency (goal: p95 <= 50 ms for the budget panel). Time from setting a slider's `.value` (what a browser drag
   does in the kernel) to the updated state, summary HTML and redrawn figure (JPEG bytes in the Image widget),
   for the r, α and batch sliders. Reported as wall time (what a learner waits) and thread CPU time (robust to
   other jobs on a shared machine). Baselines in the same process: the state alone (`budget.budget` + summary
   HTML) and a naive full matplotlib redraw of the same figure (`savefig` to PNG, no blitting).
2. Memory: peak training memory measured in a fresh process (`lorajam.measure.measure_in_subprocess`, CPU peak
   RSS) vs the estimate, full fine-tuning and LoRA (r=8 on q_proj, v_proj, AdamW, fp32) on jam-tiny (trained
   weights) and a random-weight SmolLM2-135M-shaped model, plus one activation-heavy LoRA case. Goal: |error| of
   the peak estimate <= 10% ("sum err" is the error of the plain weights + gradients + optimizer + activations
   sum). With the LoRA / full-FT ratio (anchors: LoRA paper 1.2 TB -> 350 GB for GPT-3 175B; PEFT README
   14.4 GB vs 47.14 GB for T0_3B, 0.31).

Run: `.venv/bin/python benchmarks/playground.py [--changes 60] [--skip-memory] [--smol-layers 30]`.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import torch

from lorajam import budget, measure, playground

GOAL_P95_MS = 50.0
GOAL_ERROR = 0.10


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.thread_time()
    fn()
    return (time.perf_counter() - wall) * 1e3, (time.thread_time() - cpu) * 1e3


def latency(changes: int) -> None:
    g = torch.Generator().manual_seed(0)
    delta_w = torch.randn(256, 16, generator=g) @ torch.randn(16, 256, generator=g) + 0.01 * torch.randn(256, 256)
    pg = playground.Playground(preset="SmolLM2-135M", delta_w=delta_w)
    sliders = {
        "r": (pg.r, playground.RANKS),
        "alpha": (pg.alpha, [4, 8, 16, 32, 64, 128, 256, 512]),
        "batch": (pg.batch, playground.BATCHES),
    }
    for slider, values in sliders.values():  # warm-up: fonts, caches, first background
        for v in values:
            slider.value = v
    print(f"1. latency of one slider change, {changes} changes each (ms; goal p95 <= {GOAL_P95_MS:.0f} wall)")
    print(f"{'what':36} {'wall p50':>9} {'wall p95':>9} {'cpu p50':>8} {'cpu p95':>8}")
    results = {}
    for name, (slider, values) in sliders.items():
        samples = []
        for i in range(changes):
            value = values[(i + 1) % len(values)]
            if value == slider.value:
                value = values[(i + 2) % len(values)]
            samples.append(_timed(lambda s=slider, v=value: setattr(s, "value", v)))
        results[name] = samples
    state_only = [_timed(lambda: (budget.budget("SmolLM2-135M", r=16), pg._summary_html())) for _ in range(changes)]
    naive = [_timed(lambda: pg._fig.savefig(io.BytesIO(), format="png")) for _ in range(max(5, changes // 4))]
    rows = [(f"{n} slider -> state + figure", s) for n, s in results.items()]
    rows += [("baseline: state + summary only", state_only), ("baseline: naive full redraw (PNG)", naive)]
    for label, samples in rows:
        wall, cpu = [s[0] for s in samples], [s[1] for s in samples]
        print(f"{label:36} {_pct(wall, .5):9.1f} {_pct(wall, .95):9.1f} {_pct(cpu, .5):8.1f} {_pct(cpu, .95):8.1f}")
    r_p95 = _pct([s[0] for s in results["r"]], 0.95)
    naive_p50 = statistics.median(s[0] for s in naive)
    r_p50 = statistics.median(s[0] for s in results["r"])
    print(f"r slider p95 {r_p95:.1f} ms: goal {'met' if r_p95 <= GOAL_P95_MS else 'NOT met'}; "
          f"blitted update vs naive full redraw: {r_p50 / naive_p50:.2f}x the time")


def memory_table(smol_layers: int, steps: int) -> None:
    cases = [("jam-tiny", None, 8, 64, ("full", "lora")), ("SmolLM2-135M", smol_layers, 1, 64, ("full", "lora")),
             ("SmolLM2-135M", smol_layers, 4, 256, ("lora",))]  # activation-heavy: logits buffers dominate
    print(f"\n2. peak training memory, measured (fresh process) vs estimated (MiB); AdamW, fp32, {steps} steps")
    print(f"{'model':22} {'method':6} {'tokens':>7} {'measured':>9} {'estimate':>9} {'error':>7} {'sum err':>7}  how")
    errors = []
    for model, layers, batch, seq, methods in cases:
        label = model if not layers or layers == 30 else f"{model} ({layers} blocks)"
        got = {}
        for method in methods:
            res = measure.measure_in_subprocess(model, method, r=8, targets=("q_proj", "v_proj"), batch=batch,
                                                seq_len=seq, steps=steps, layers=layers)
            got[method] = res
            if res["peak_bytes"] is None:
                print(f"{label:22} {method:6} {batch}x{seq:<5} {'n/a':>9} {res['estimate'] / 2**20:9.1f}")
                continue
            errors.append(abs(res["error"]))
            plain = res["estimate_sum"] / res["peak_bytes"] - 1
            print(f"{label:22} {method:6} {batch}x{seq:<5} {res['peak_bytes'] / 2**20:9.1f} "
                  f"{res['estimate'] / 2**20:9.1f} {100 * res['error']:+6.1f}% {100 * plain:+6.1f}%  {res['how']}")
        if len(got) == 2 and got["full"]["peak_bytes"] and got["lora"]["peak_bytes"]:
            measured = got["lora"]["peak_bytes"] / got["full"]["peak_bytes"]
            estimated = got["lora"]["estimate"] / got["full"]["estimate"]
            print(f"{'':22} LoRA / full FT: measured {measured:.2f}, estimated {estimated:.2f}")
    if errors:
        print(f"largest |error| {100 * max(errors):.1f}%: goal <= {100 * GOAL_ERROR:.0f}% "
              f"{'met' if max(errors) <= GOAL_ERROR else 'NOT met'}")
    gpt3 = budget.preset("GPT-3-175B")
    kw = dict(r=4, targets=("q_proj", "v_proj"), batch=1, seq_len=2048, precision="fp16")
    full, lora = budget.memory(gpt3, "full", **kw), budget.memory(gpt3, "lora", **kw)
    print(f"GPT-3 175B estimate (fp16, r=4 on q,v, batch 1 x 2048): full {full.peak / 1e12:.2f} TB, "
          f"LoRA {lora.peak / 1e12:.2f} TB, ratio {lora.peak / full.peak:.2f} (LoRA paper: 1.2 TB -> 350 GB, 0.29)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=60, help="slider changes timed per slider")
    parser.add_argument("--skip-memory", action="store_true", help="latency only")
    parser.add_argument("--smol-layers", type=int, default=30, help="blocks of the SmolLM2-135M-shaped model")
    parser.add_argument("--steps", type=int, default=2, help="training steps per memory measurement (>= 2)")
    args = parser.parse_args()
    latency(args.changes)
    if not args.skip_memory:
        memory_table(args.smol_layers, args.steps)


if __name__ == "__main__":
    main()
