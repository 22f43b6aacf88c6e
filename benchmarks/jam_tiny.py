"""Benchmark the bundled jam-tiny model on CPU and print a table.

Times: load (from_pretrained, vs building the same model from its config: the baseline), greedy generation
tokens/s (KV cache vs no cache), seconds per training step at batch 16 x 128 tokens (full fine-tuning vs LoRA
r=8 q/v). Accuracies: knowledge probe, base zero-shot on the instruction test split, and test split after the
LoRA sanity run of `tests/test_jam_tiny.py` (with its wall-clock seconds).

Run: `HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/jam_tiny.py [--threads 2] [--skip-sft]`.
Goals (issue 3): load < 3 s, probe >= 90 %, zero-shot <= 20 %, SFT >= 85 % in <= 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from lorajam import data, models  # noqa: E402
from lorajam.train import exact_match, knowledge_probe, train_lora  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_jam_tiny import SFT_BATCH, SFT_LR, SFT_STEPS  # noqa: E402


def timed(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load_times(path: Path) -> tuple[float, float]:
    def load():
        AutoTokenizer.from_pretrained(path)
        AutoModelForCausalLM.from_pretrained(path)

    def build():
        AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(path))

    return timed(load), timed(build)


@torch.no_grad()
def generation_speed(model, tokenizer, new_tokens: int = 64, use_cache: bool = True) -> float:
    ids = tokenizer("The capital of Peru is", return_tensors="pt")

    def run():
        model.generate(**ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                       use_cache=use_cache, pad_token_id=tokenizer.pad_token_id)

    return new_tokens / timed(run)


def step_seconds(model, batch: int = 16, length: int = 128, steps: int = 5) -> float:
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    x = torch.randint(3, model.config.vocab_size, (batch, length))
    model.train()

    def step():
        model(input_ids=x, labels=x).loss.backward()
        opt.step()
        opt.zero_grad()

    step()  # warm-up
    return timed(step, steps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-sft", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path = models.jam_tiny_path()
    rows: list[tuple[str, str, str]] = []

    load_s, build_s = load_times(path)
    rows.append(("load (tokenizer + weights)", f"{load_s:.2f} s",
                 f"goal < 3 s; {load_s / build_s:.1f}x building from config ({build_s:.2f} s)"))
    model, tokenizer = models.load("jam-tiny")
    n_params = sum(p.numel() for p in model.parameters())
    rows.append(("parameters", f"{n_params / 1e6:.2f} M", "goal <= 10 M"))
    cached, uncached = generation_speed(model, tokenizer), generation_speed(model, tokenizer, use_cache=False)
    rows.append(("greedy generation, batch 1", f"{cached:.0f} tok/s",
                 f"{cached / uncached:.1f}x no KV cache ({uncached:.0f} tok/s)"))
    full_s = step_seconds(model)
    from peft import LoraConfig, get_peft_model

    lora_model = get_peft_model(models.load("jam-tiny")[0], LoraConfig(r=8, lora_alpha=16,
                                                                       target_modules=["q_proj", "v_proj"]))
    lora_s = step_seconds(lora_model)
    rows.append(("train step 16x128, full FT", f"{full_s:.3f} s", "baseline"))
    rows.append(("train step 16x128, LoRA r=8 q/v", f"{lora_s:.3f} s", f"{lora_s / full_s:.2f}x full FT"))

    model, tokenizer = models.load("jam-tiny")
    start = time.perf_counter()
    probe = knowledge_probe(model, tokenizer)
    rows.append(("knowledge probe (all facts)", f"{probe:.1%}", f"goal >= 90 %; {time.perf_counter() - start:.1f} s"))
    test = data.instruction_examples("test")
    zero = exact_match(model, tokenizer, test)
    rows.append(("base zero-shot, test split", f"{zero:.1%}", "goal <= 20 %"))
    if not args.skip_sft:
        torch.manual_seed(0)
        result = train_lora(model, tokenizer, data.instruction_examples("train"), steps=SFT_STEPS, lr=SFT_LR,
                            batch_size=SFT_BATCH, seed=0, progress=False)
        sft = exact_match(result.model, tokenizer, test)
        val = exact_match(result.model, tokenizer, data.instruction_examples("validation"))
        rows.append(("LoRA SFT, test split", f"{sft:.1%}",
                     f"goal >= 85 %; {SFT_STEPS} steps in {result.seconds:.1f} s (goal <= 60 s); val {val:.1%}"))

    width = max(len(r[0]) for r in rows)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\njam-tiny benchmark ({args.threads} threads, torch {torch.__version__}, load average {load})")
    print(f"{'measure'.ljust(width)}  {'value':>12}  notes")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>12}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
