"""Pretrain `jam-tiny` from scratch on the synthetic corpus of `lorajam.data` (CPU, about 20 minutes on 2 cores).

Steps: generate the corpus (fixed seed) -> train a byte-level BPE tokenizer on it -> pack documents into
128-token blocks -> train a small `LlamaForCausalLM` with AdamW, warmup + cosine -> save safetensors weights,
tokenizer (with bos/eos/pad and the chat template of `lorajam.train`), a loss plot and `train_log.json`.

    python scripts/pretrain_jam_tiny.py                    # writes src/lorajam/assets/jam-tiny/
    python scripts/pretrain_jam_tiny.py --out runs/jt --steps 200   # a quick smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from tqdm.auto import tqdm
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from lorajam import data
from lorajam.models import jam_tiny_path
from lorajam.train import CHAT_TEMPLATE, knowledge_probe

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"


def train_tokenizer(docs: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE on the corpus; adds bos to every encoded text (like Llama tokenizers)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer=trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD, model_max_length=256,
        padding_side="right",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def save_tokenizer(tokenizer, out: Path) -> None:
    """Standard HF files; the class name is the portable one (transformers 4.x and 5.x both read it)."""
    tokenizer.save_pretrained(out)
    path = out / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    for key in ("is_local", "local_files_only"):  # where it was saved from, not part of the tokenizer
        config.pop(key, None)
    path.write_text(json.dumps(config, indent=2) + "\n")


def pack(docs: list[str], tokenizer, block: int, seed: int) -> torch.Tensor:
    """bos + doc + eos for every document, concatenated and cut into `block`-token rows."""
    ids: list[int] = []
    for enc in tokenizer(docs, add_special_tokens=True)["input_ids"]:
        ids.extend(enc)
        ids.append(tokenizer.eos_token_id)
    n = len(ids) // block
    rows = torch.tensor(ids[: n * block], dtype=torch.long).view(n, block)
    return rows[torch.randperm(n, generator=torch.Generator().manual_seed(seed))]


def lr_at(step: int, steps: int, peak: float, warmup: int, floor: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=jam_tiny_path())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chars", type=int, default=8_000_000, help="corpus size in characters")
    p.add_argument("--vocab", type=int, default=2048)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=688)
    p.add_argument("--block", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=150)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-every", type=int, default=500)
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    t0 = time.time()
    docs = data.pretraining_documents(args.seed, args.chars)
    tokenizer = train_tokenizer(docs, args.vocab)
    rows = pack(docs, tokenizer, args.block, args.seed)
    print(f"corpus: {sum(map(len, docs)) / 1e6:.1f} MB, {len(docs)} docs, {rows.numel() / 1e6:.2f}M tokens, "
          f"{rows.shape[0]} blocks; prep {time.time() - t0:.0f}s", flush=True)

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=args.hidden, intermediate_size=args.intermediate,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.heads,
        max_position_embeddings=256, tie_word_embeddings=True, rms_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M parameters", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    losses: list[float] = []
    evals: list[dict] = []
    cursor = 0
    t_train = time.time()
    model.train()
    bar = tqdm(range(args.steps), desc="pretraining", mininterval=10)
    for step in bar:
        if cursor + args.batch > rows.shape[0]:
            rows = rows[torch.randperm(rows.shape[0], generator=torch.Generator().manual_seed(step))]
            cursor = 0
        batch = rows[cursor: cursor + args.batch]
        cursor += args.batch
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, args.warmup, args.lr * 0.05)
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}")
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            model.eval()
            probe = knowledge_probe(model, tokenizer, progress=False)
            model.train()
            minutes = (time.time() - t_train) / 60
            evals.append({"step": step + 1, "probe": probe, "minutes": round(minutes, 2)})
            recent = losses[-50:]
            print(f"step {step + 1}: loss {sum(recent) / len(recent):.3f}, probe {probe:.1%}, {minutes:.1f} min",
                  flush=True)
            model.save_pretrained(args.out)
            save_tokenizer(tokenizer, args.out)
    train_minutes = (time.time() - t_train) / 60
    log = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "parameters": n_params,
        "corpus_chars": sum(map(len, docs)),
        "tokens_seen": args.steps * args.batch * args.block,
        "train_minutes": round(train_minutes, 2),
        "total_minutes": round((time.time() - t0) / 60, 2),
        "torch_threads": args.threads,
        "evals": evals,
        "losses": [round(x, 4) for x in losses],
    }
    (args.out / "train_log.json").write_text(json.dumps(log) + "\n")
    save_loss_plot(losses, args.out / "loss.png")
    print(f"done: {train_minutes:.1f} min training, saved to {args.out}", flush=True)


def save_loss_plot(losses: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    smooth = [sum(losses[max(0, i - 49): i + 1]) / len(losses[max(0, i - 49): i + 1]) for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, alpha=0.3, label="loss per step")
    ax.plot(smooth, label="mean of last 50")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    ax.set_title("jam-tiny pretraining")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
