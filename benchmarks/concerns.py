"""Notebook 03's experiments outside the notebook: print the measured tables for its closing note.

    .venv/bin/python benchmarks/concerns.py                    # the notebook's default size on jam-tiny
    .venv/bin/python benchmarks/concerns.py --size quick       # what CI runs (about a minute on 2 cores)
    .venv/bin/python benchmarks/concerns.py --size full --model HuggingFaceTB/SmolLM2-135M   # on a GPU

Same calls, sizes (`lorajam.concerns.SIZES`) and seed as the notebook. Prints per section: the table, the ratios
the text talks about (full FT vs LoRA memory, estimate error, validation-loss rise, worst retention per method),
and the wall-clock and CPU seconds the section took.
"""

from __future__ import annotations

import argparse
import time

import torch

from lorajam import concerns, data, models


class Section:
    """Context manager printing wall and CPU seconds of one section."""

    def __init__(self, name: str, timings: dict[str, tuple[float, float]]):
        self.name, self.timings = name, timings

    def __enter__(self):
        print(f"\n== {self.name}", flush=True)
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        self.timings[self.name] = (wall, cpu)
        print(f"({self.name}: {wall:.1f} s wall, {cpu:.1f} s CPU)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=list(concerns.SIZES), default="standard")
    parser.add_argument("--model", default="jam-tiny")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    S, seed = concerns.SIZES[args.size], args.seed
    timings: dict[str, tuple[float, float]] = {}
    torch.manual_seed(seed)
    model, tokenizer = models.load(args.model, args.device, torch.float32)
    train_split, val_split, test_split = (data.instruction_examples(s) for s in data.SPLITS)
    print(f"{args.model} on {args.device}, size {args.size!r}, torch threads {torch.get_num_threads()}")

    with Section("1. compute cost", timings):
        rows = concerns.compare_memory(model, args.model, batch=S.mem_batch, seq_len=S.mem_seq_len,
                                       steps=S.mem_steps, progress=False)
        if S.mem_reference:
            from lorajam import measure

            ref = measure.random_model("SmolLM2-135M").to(args.device)
            rows += concerns.compare_memory(ref, "SmolLM2-135M", batch=S.mem_batch, seq_len=S.mem_seq_len,
                                            steps=S.mem_steps, progress=False)
            del ref
        print(concerns.table([r.row() for r in rows]))
        for name in dict.fromkeys(r.model for r in rows):
            mine = {r.setting: r for r in rows if r.model == name}
            full = mine.pop("full FT")
            for setting, lora_row in mine.items():
                if full.measured_bytes and lora_row.measured_bytes:
                    print(f"{name}: full FT / {setting}: memory x{full.measured_bytes / lora_row.measured_bytes:.2f}, "
                          f"time per step x{full.seconds_per_step / lora_row.seconds_per_step:.2f}")
            for r in [full, *mine.values()]:
                if r.measured_bytes:
                    print(f"{name} {r.setting}: estimate / measured = {r.estimate_bytes / r.measured_bytes:.3f}")
        print(concerns.table(concerns.scaled_estimates()))

    val = concerns.sample(val_split, S.n_val, seed)
    test = concerns.sample(test_split, S.n_test, seed)
    with Section("2. overfitting", timings):
        run = dict(steps=S.overfit_steps, eval_every=S.eval_every, batch_size=S.overfit_batch, seed=seed,
                   progress=False)
        small = concerns.sample(train_split, S.overfit_train, seed)
        more = concerns.sample(train_split, S.overfit_more, seed)
        curves = [
            concerns.overfit_run(model, tokenizer, small, val, test, method="full", lr=1e-3, **run,
                                 label=f"full FT lr=1e-3, {len(small)} examples"),
            concerns.overfit_run(model, tokenizer, small, val, test, method="full", lr=3e-4, **run,
                                 label=f"full FT lr=3e-4, {len(small)} examples"),
            concerns.overfit_run(model, tokenizer, more, val, test, method="full", lr=3e-4, **run,
                                 label=f"full FT lr=3e-4, {len(more)} examples"),
        ]
        if args.size != "quick":
            curves += [
                concerns.overfit_run(model, tokenizer, small, val, test, method="lora", lr=1e-3, r=8, **run,
                                     label=f"LoRA r=8, {len(small)} examples"),
                concerns.overfit_run(model, tokenizer, small, val, test, method="lora", lr=1e-3, r=2, dropout=0.1,
                                     **run, label=f"LoRA r=2 dropout 0.1, {len(small)} examples"),
            ]
        print(concerns.table([c.row() for c in curves]))
        for c in curves:
            print(f"{c.label}: validation loss min at step {c.best_step}, rise after it {c.rise:+.3f}; "
                  f"train loss end/start {c.train_loss[-1] / c.train_loss[0]:.3f}")

    with Section("3. forgetting", timings):
        facts = concerns.sample(data.probe_facts(), S.n_facts, seed)
        texts = concerns.heldout_texts(S.n_texts)
        sweep_train = concerns.sample(train_split, S.sweep_train, seed)
        baseline, results = concerns.forgetting_sweep(model, tokenizer, S.sweep, sweep_train, test, facts, texts,
                                                      steps=S.sweep_steps, batch_size=S.sweep_batch, seed=seed,
                                                      progress=False)
        print(f"base model: probe {baseline.probe:.3f} of {len(facts)} facts, new task {baseline.new_task:.3f}, "
              f"perplexity {baseline.perplexity:.2f}")
        print(concerns.table([r.row(baseline) for r in results]))
        for method in ("full", "lora"):
            print(f"worst retention, {method}: {concerns.worst_retention(results, method):.3f}")

    print("\n== seconds per section (wall, CPU)")
    for name, (wall, cpu) in timings.items():
        print(f"{name:18} {wall:8.1f} {cpu:8.1f}")


if __name__ == "__main__":
    main()
