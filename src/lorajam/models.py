"""Load a causal language model and its tokenizer by name: the bundled `jam-tiny` or a Hub id.

Both go through the same `from_pretrained` call; only the location differs (a folder inside this package, or a
Hub repository id). Nothing here decides *which* model to use: that is `lorajam.runtime`.
"""

from __future__ import annotations

from pathlib import Path

JAM_TINY = "jam-tiny"

# Hub models the course knows work with its lessons (Llama-style module names q_proj/v_proj/...).
HUB_MODELS: dict[str, str] = {
    "HuggingFaceTB/SmolLM2-135M": "SmolLM2 135M: ungated, Llama-style, fits any Colab GPU (default)",
    "HuggingFaceTB/SmolLM2-360M": "SmolLM2 360M: same family, a little sharper",
    "Qwen/Qwen2.5-0.5B": "Qwen2.5 0.5B: larger, still fine on a T4",
}
DEFAULT_HUB_MODEL = "HuggingFaceTB/SmolLM2-135M"


class UnknownModelError(ValueError):
    """A model name that is neither `jam-tiny`, a local folder, nor a plausible Hub id."""


def jam_tiny_path() -> Path:
    """Folder holding the bundled jam-tiny weights, tokenizer and model card."""
    return Path(__file__).resolve().parent / "assets" / "jam-tiny"


def jam_tiny_card() -> str:
    """The jam-tiny model card (data, config, training time, measured figures, limitations, licence)."""
    path = jam_tiny_path() / "MODEL_CARD.md"
    if not path.exists():
        raise UnknownModelError(f"{path} is missing: reinstall lorajam.")
    return path.read_text(encoding="utf-8")


def is_hub_id(name: str) -> bool:
    """True for names shaped like a Hub repository id (`owner/name`) that are not local folders."""
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not Path(name).exists()


def resolve(name: str) -> str:
    """Turn a model name into what `from_pretrained` takes: a local folder or a Hub id."""
    if name == JAM_TINY:
        path = jam_tiny_path()
        if not (path / "config.json").exists():
            raise UnknownModelError(
                f"jam-tiny weights are missing from {path}. Reinstall lorajam, or rebuild them with "
                "`python scripts/pretrain_jam_tiny.py`."
            )
        return str(path)
    if name and Path(name).is_dir() and (Path(name) / "config.json").exists():
        return str(Path(name).resolve())
    if is_hub_id(name):
        return name
    known = ", ".join([JAM_TINY, *HUB_MODELS])
    raise UnknownModelError(
        f"Unknown model {name!r}. Use 'auto', 'jam-tiny', a Hub id such as 'HuggingFaceTB/SmolLM2-135M' "
        f"(owner/name), or a local folder. Known: {known}."
    )


def load(name: str = JAM_TINY, device: str = "cpu", dtype=None):
    """Load `(model, tokenizer)` for `name` on `device` in `dtype` (default: fp32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    location = resolve(name)
    tokenizer = AutoTokenizer.from_pretrained(location)
    model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype or torch.float32)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device), tokenizer
