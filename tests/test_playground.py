"""lorajam.playground at the Python level: setting a widget's value updates the computed state and the figure."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from lorajam import budget, playground

# Widget classes present in ipywidgets 7.7.1 (Colab) as well as 8.x.
IPYWIDGETS_7_AND_8 = {"IntSlider", "SelectionSlider", "Checkbox", "Dropdown", "Button", "Output", "HBox", "VBox",
                      "HTML", "Image", "Layout"}


@pytest.fixture(scope="module")
def delta_w():
    g = torch.Generator().manual_seed(0)
    return torch.randn(48, 6, generator=g) @ torch.randn(6, 40, generator=g)  # rank 6


@pytest.fixture
def pg(delta_w):
    return playground.Playground(preset="SmolLM2-135M", r=8, alpha=16, targets=("q_proj", "v_proj"), delta_w=delta_w)


def _shown_trainable(pg) -> int:
    return int(re.search(r'class="lj-trainable">([\d,]+)<', pg.summary.value).group(1).replace(",", ""))


def test_initial_state_is_the_budget_of_the_controls(pg):
    expected = budget.budget("SmolLM2-135M", r=8, alpha=16, targets=("q_proj", "v_proj"), batch=8, seq_len=256,
                             precision="fp16")
    assert pg.state == expected
    assert _shown_trainable(pg) == expected.trainable


def test_rank_slider_updates_trainable_count_and_figure(pg):
    arch = budget.preset("SmolLM2-135M")
    before = pg.figure.value
    pg.r.value = 32
    assert pg.state.r == 32
    assert pg.state.trainable == budget.lora_params(arch, 32, ("q_proj", "v_proj")) == _shown_trainable(pg)
    assert pg.figure.value != before and pg.figure.value[:2] == b"\xff\xd8"  # a new JPEG


def test_alpha_slider_changes_scale_not_parameters(pg):
    trainable = pg.state.trainable
    pg.alpha.value = 64
    assert pg.state.scale == 64 / 8 and pg.state.rs_scale == pytest.approx(64 / 8**0.5)
    assert pg.state.trainable == trainable


def test_target_checkboxes(pg):
    arch = budget.preset("SmolLM2-135M")
    pg.checks["k_proj"].value = True
    assert pg.state.targets == ("q_proj", "k_proj", "v_proj")
    assert pg.state.trainable == budget.lora_params(arch, 8, ("q_proj", "k_proj", "v_proj"))
    for box in pg.checks.values():
        box.value = False
    assert pg.state is None and "at least one target" in pg.error and "at least one" in pg.summary.value
    pg.checks["down_proj"].value = True
    assert pg.state.targets == ("down_proj",)


def test_batch_and_sequence_change_activations_only(pg):
    before = pg.state.memory["lora"]
    pg.batch.value, pg.seq_len.value = 16, 512
    after = pg.state.memory["lora"]
    assert after.activations == pytest.approx(4 * before.activations, rel=1e-9)
    assert (after.weights, after.gradients, after.optimizer) == (before.weights, before.gradients, before.optimizer)


def test_precision_optimizer_and_preset(pg):
    pg.precision.value = "fp32"
    pg.optimizer.value = "sgd"
    assert pg.state.precision == "fp32" and pg.state.memory["full"].optimizer == 0
    pg.checks["gate_proj"].value = True
    pg.preset.value = "GPT-3-175B"  # no gate projection in GPT-3's MLP
    assert pg.checks["gate_proj"].disabled and "gate_proj" not in pg.state.targets
    assert pg.state.total_params == budget.total_params(budget.preset("GPT-3-175B"))
    pg.preset.value = "Llama-2-7B"
    assert not pg.checks["gate_proj"].disabled and "gate_proj" in pg.state.targets


def test_lowrank_errors_equal_truncated_svd(delta_w):
    errors = playground.lowrank_errors(torch.linalg.svdvals(delta_w))
    u, s, vh = torch.linalg.svd(delta_w)
    norm = torch.linalg.norm(delta_w)
    for k in (0, 1, 3, 5):
        truncated = (u[:, :k] * s[:k]) @ vh[:k]
        assert errors[k] == pytest.approx(float(torch.linalg.norm(delta_w - truncated) / norm), abs=1e-5)
    assert errors[6] < 1e-5 and errors[0] == 1.0  # the matrix has rank 6


def test_unknown_preset_is_refused():
    with pytest.raises(budget.BudgetError, match="Unknown preset"):
        playground.Playground(preset="GPT-9")


def test_show_does_nothing_under_nbgrader_autograding(pg, monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert pg.show() is None
    assert "nbgrader" in capsys.readouterr().out


def test_only_widgets_common_to_ipywidgets_7_and_8():
    source = Path(playground.__file__).read_text()
    used = set(re.findall(r"\bw\.([A-Z]\w+)\(", source))
    assert used and used <= IPYWIDGETS_7_AND_8, used - IPYWIDGETS_7_AND_8
    assert "Stack" not in source and "TagsInput" not in source


class FakeTraining:
    """Stands in for jam-tiny + train_lora: records its arguments, can be held mid-run."""

    def __init__(self):
        self.release = threading.Event()
        self.started = threading.Event()
        self.calls: list[dict] = []

    def loader(self):
        return SimpleNamespace(name="model"), SimpleNamespace(name="tokenizer")

    def trainer(self, model, tokenizer, examples, *, r, alpha, target_modules, steps, seed, callback, progress):
        self.calls.append({"r": r, "alpha": alpha, "targets": target_modules, "steps": steps})
        self.started.set()
        self.release.wait(10)
        for step in range(steps):
            callback(step, 2.0 / (step + 1))
        return SimpleNamespace(model=SimpleNamespace(name="trained"))

    @staticmethod
    def evaluator(model, tokenizer, examples):
        return 0.75 if model.name == "trained" else 0.25


def test_train_runs_in_background_refuses_a_second_click_and_overlays_runs(delta_w):
    fake = FakeTraining()
    pg = playground.Playground(delta_w=delta_w, train_steps=20, loader=fake.loader, trainer=fake.trainer,
                               evaluator=fake.evaluator)
    pg.r.value, pg.alpha.value = 4, 8
    first = pg.train()
    assert fake.started.wait(10) and pg.running
    pg.r.value = 16  # the controls stay live while training
    assert pg.state.r == 16
    assert pg.train() is None and "already" in pg.train_status.value
    fake.release.set()
    pg.wait(10)
    assert not pg.running and first.error is None
    assert fake.calls == [{"r": 4, "alpha": 8, "targets": ["q_proj", "v_proj"], "steps": 20}]
    assert (first.before, first.after, len(first.losses)) == (0.25, 0.75, 20)
    assert "75%" in pg.train_status.value
    second = pg.train(blocking=True)
    assert fake.calls[-1]["r"] == 16 and pg.runs == [first, second]
    assert pg.train_figure.value[:4] == b"\x89PNG"


def test_training_failure_is_shown_not_lost(delta_w):
    def broken_loader():
        raise FileNotFoundError("jam-tiny weights are missing")

    pg = playground.Playground(delta_w=delta_w, loader=broken_loader)
    run = pg.train(blocking=True)
    assert "jam-tiny weights are missing" in run.error and "failed" in pg.train_status.value


@pytest.mark.slow
def test_real_training_of_jam_tiny():
    from lorajam import models

    try:
        models.resolve("jam-tiny")
    except models.UnknownModelError:
        pytest.skip("jam-tiny weights not installed yet")
    pg = playground.Playground(preset="jam-tiny", train_steps=10, eval_examples=8)
    run = pg.train(blocking=True)
    assert run.error is None and len(run.losses) == 10 and 0 <= run.after <= 1
