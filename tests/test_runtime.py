"""The runtime layer: precision by capability, model choice, banner, bad input."""

import pytest
import torch

from lorajam import models, runtime
from lorajam.runtime import RuntimeInfo


def info(**overrides) -> RuntimeInfo:
    base = dict(python="3.12.0", on_colab=False, device="cpu", hub_reachable=False)
    return RuntimeInfo(**{**base, **overrides})


def gpu(capability, name="GPU", hub=True, **extra) -> RuntimeInfo:
    return info(device="cuda", gpu_name=name, capability=capability, hub_reachable=hub, **extra)


@pytest.mark.parametrize(
    ("capability", "expected"),
    [
        (None, torch.float32),  # CPU
        ((7, 0), torch.float16),  # V100
        ((7, 5), torch.float16),  # T4: is_bf16_supported() says True, but there is no native bf16
        ((8, 0), torch.bfloat16),  # A100
        ((8, 9), torch.bfloat16),  # L4
        ((9, 0), torch.bfloat16),  # H100
    ],
)
def test_precision_follows_compute_capability(capability, expected):
    assert runtime.choose_precision(capability) is expected


def test_auto_picks_hub_model_on_gpu_with_hub():
    name, reason = runtime.choose_model("auto", gpu((7, 5), "Tesla T4"))
    assert name == models.DEFAULT_HUB_MODEL
    assert "GPU" in reason


@pytest.mark.parametrize(
    "machine",
    [
        info(),  # CPU
        gpu((7, 5), hub=False),  # GPU but offline
        gpu((8, 0), autograding=True),  # nbgrader
    ],
)
def test_auto_falls_back_to_jam_tiny(machine):
    assert runtime.choose_model("auto", machine)[0] == models.JAM_TINY


def test_explicit_choice_wins_even_on_gpu():
    assert runtime.choose_model("jam-tiny", gpu((8, 0)))[0] == models.JAM_TINY
    assert runtime.choose_model("Qwen/Qwen2.5-0.5B", gpu((8, 0)))[0] == "Qwen/Qwen2.5-0.5B"


def test_explicit_hub_model_offline_is_a_clear_error():
    with pytest.raises(runtime.RuntimeSetupError, match="jam-tiny"):
        runtime.choose_model("HuggingFaceTB/SmolLM2-135M", info(hub_offline_env=True))


@pytest.mark.parametrize("bad", ["gpt-5", "no/such/thing", "", "/"])
def test_unknown_model_name_says_what_to_use(bad):
    with pytest.raises(models.UnknownModelError, match="jam-tiny"):
        models.resolve(bad)


def test_hub_check_respects_offline_env(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert runtime.hub_reachable(timeout=5) is False


def test_autograding_flag(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert runtime.detect(check_hub=False).autograding is False
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert runtime.detect(check_hub=False).autograding is True


def test_t4_gets_a_precision_warning_with_the_fix():
    notes = runtime.precision_warnings(gpu((7, 5), "Tesla T4"))
    assert any("fp16=True" in note and "T4" in note for note in notes)
    assert not any("bf16" in note for note in runtime.precision_warnings(gpu((8, 0), "A100")))


def test_setup_on_this_machine_prints_one_line_banner(capsys):
    rt = runtime.setup("auto", seed=0)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == rt.banner()
    assert rt.model_name == models.JAM_TINY and rt.device == "cpu" and rt.dtype is torch.float32
    assert "jam-tiny" in out[0] and "fp32" in out[0]


def test_setup_rejects_unknown_precision():
    with pytest.raises(runtime.RuntimeSetupError, match="precision must be one of"):
        runtime.setup("jam-tiny", precision="fp8", quiet=True)


def test_hub_model_load_goes_as_far_as_the_download():
    """The real-Hub path: resolution works, and loading stops exactly at the (offline) download."""
    assert models.resolve("HuggingFaceTB/SmolLM2-135M") == "HuggingFaceTB/SmolLM2-135M"
    with pytest.raises(OSError, match="(?i)offline|cannot|couldn't|connect|cache"):
        models.load("HuggingFaceTB/SmolLM2-135M")


def test_seed_everything_makes_torch_and_numpy_repeatable():
    import numpy as np

    runtime.seed_everything(3)
    first = (torch.rand(3), np.random.rand(3))
    runtime.seed_everything(3)
    again = (torch.rand(3), np.random.rand(3))
    assert torch.equal(first[0], again[0]) and (first[1] == again[1]).all()
    runtime.seed_everything(4)
    assert not torch.equal(first[0], torch.rand(3))


def test_grading_replaces_a_hub_choice_with_jam_tiny():
    """A notebook handed in from Colab may name a Hub model; the offline grader must still run it."""
    name, reason = runtime.choose_model("HuggingFaceTB/SmolLM2-135M", info(autograding=True, hub_offline_env=True))
    assert name == models.JAM_TINY and "grading" in reason
    assert runtime.choose_model("jam-tiny", info(autograding=True))[0] == models.JAM_TINY
