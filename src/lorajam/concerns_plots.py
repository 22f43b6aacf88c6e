"""Figures for notebook 03 (concerns with fine-tuning), drawn from `lorajam.concerns` results.

Each function takes measured results, draws one matplotlib figure and returns it (the notebook shows it).
"""

from __future__ import annotations

from collections.abc import Sequence

from lorajam.concerns import GPU_LINES_GB, Baseline, Curve, MemoryRow, RunResult

FULL_COLOUR, LORA_COLOUR, QLORA_COLOUR = "tab:red", "tab:blue", "tab:green"


def _plt():
    import matplotlib.pyplot as plt

    return plt


def plot_memory(rows: Sequence[MemoryRow], scaled: Sequence[dict[str, object]]):
    """Left: measured vs estimated peak memory per setting (MiB). Right: estimates for big models, GPU sizes drawn."""
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.2, 1]})
    labels = [f"{r.model}\n{r.setting}" for r in rows]
    xs = range(len(rows))
    measured = [(r.measured_bytes or 0) / 2**20 for r in rows]
    colours = [FULL_COLOUR if r.setting.startswith("full") else LORA_COLOUR for r in rows]
    ax.bar([x - 0.2 for x in xs], measured, 0.4, color=colours, label="measured")
    ax.bar([x + 0.2 for x in xs], [r.estimate_bytes / 2**20 for r in rows], 0.4, color=colours, alpha=0.35,
           hatch="//", label="lorajam.budget estimate")
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_ylabel("peak training memory (MiB)")
    if len({r.model for r in rows}) > 1:
        ax.set_yscale("log")
    ax.set_title("Measured on this machine")
    ax.legend(fontsize=8)

    methods = [("full GB", "full FT", FULL_COLOUR), ("lora GB", "LoRA", LORA_COLOUR),
               ("qlora GB", "QLoRA", QLORA_COLOUR)]
    width = 0.8 / len(methods)
    for i, (key, name, colour) in enumerate(methods):
        ax2.bar([j + (i - 1) * width for j in range(len(scaled))], [row[key] for row in scaled], width,
                color=colour, label=name)
    for (gpu, gb), style in zip(GPU_LINES_GB.items(), (":", "--", "-."), strict=True):
        ax2.axhline(gb, color="black", linestyle=style, linewidth=1)
        ax2.text(len(scaled) - 0.5, gb * 1.08, gpu, ha="right", fontsize=8)
    ax2.set_xticks(range(len(scaled)), [str(row["model"]) for row in scaled], fontsize=8)
    ax2.set_yscale("log")
    ax2.set_ylabel("estimated peak memory (GB)")
    ax2.set_title("Estimated for big models (fp16, batch 1)")
    ax2.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_curves(curves: Sequence[Curve]):
    """Training loss (dashed), validation loss (solid) and held-out exact match per run, against steps."""
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    for i, c in enumerate(curves):
        colour = f"C{i}"
        ax.plot(c.steps, c.train_loss, "--", color=colour, label=f"{c.label}: train")
        ax.plot(c.steps, c.val_loss, "-", color=colour, label=f"{c.label}: validation")
        ax.plot(c.best_step, c.val_loss[c.best], "o", color=colour)
        ax2.plot(c.steps, [100 * x for x in c.test_exact], "-", color=colour, label=f"{c.label}: unseen test")
        ax2.plot(c.steps, [100 * x for x in c.train_exact], "--", color=colour, label=f"{c.label}: training pairs")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss per answer token")
    ax.set_title("Loss (dots: lowest validation loss)")
    ax.legend(fontsize=7)
    ax2.set_xlabel("step")
    ax2.set_ylabel("exact match (%)")
    ax2.set_title("Exact match: training pairs (dashed) vs unseen entities")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_tradeoff(baseline: Baseline, results: Sequence[RunResult]):
    """Retention against new-task accuracy, one point per run (the learning/forgetting trade-off)."""
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in results:
        colour = FULL_COLOUR if r.spec.method == "full" else LORA_COLOUR
        marker = "s" if r.spec.method == "full" else "o"
        ax.scatter(100 * r.new_task, 100 * r.retention, color=colour, marker=marker, s=50)
        ax.annotate(r.spec.label.replace("LoRA ", ""), (100 * r.new_task, 100 * r.retention), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
        ax2.scatter(r.weight_change, 100 * r.retention, color=colour, marker=marker, s=50)
    ax.scatter([100 * baseline.new_task], [100], color="black", marker="*", s=120, label="base model")
    ax.scatter([], [], color=FULL_COLOUR, marker="s", label="full fine-tuning")
    ax.scatter([], [], color=LORA_COLOUR, marker="o", label="LoRA")
    ax.set_xlabel("new task: exact match on held-out entities (%)")
    ax.set_ylabel("retention: known facts still known (%)")
    ax.set_title("Learning vs forgetting, one point per run")
    ax.legend(fontsize=8, loc="lower left")
    ax2.set_xscale("log")
    ax2.set_xlabel("how far the weights moved, ||W - W0|| / ||W0||")
    ax2.set_ylabel("retention (%)")
    ax2.set_title("Retention against weight movement")
    fig.tight_layout()
    return fig
