"""Notebook 01 shows a LoRA layer inline; it must behave exactly like `lorajam.lora.LoRALinear` (no drift)."""

from __future__ import annotations

import copy
import importlib.util
import json

import pytest
import torch
from torch import nn

from lorajam.course import REPO_ROOT
from lorajam.lora import LoRALinear

NOTEBOOK = REPO_ROOT / "notebooks" / "01_lora_theory.ipynb"
BUILD_SCRIPT = REPO_ROOT / "scripts" / "notebooks" / "build_01_lora_theory.py"
TAG = "inline-lora"


def inline_cells(path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if TAG in c.get("metadata", {}).get("tags", [])]


@pytest.fixture(scope="module")
def notebook_class() -> type[nn.Module]:
    sources = inline_cells(NOTEBOOK)
    assert len(sources) == 1, f"expected one cell tagged {TAG!r} in {NOTEBOOK.name}, found {len(sources)}"
    namespace: dict = {}
    exec(compile(sources[0], f"{NOTEBOOK.name}[{TAG}]", "exec"), namespace)  # the cell imports what it needs
    return namespace["LoRALinear"]


def pair(notebook_class, bias: bool, r: int, alpha: float, dropout: float = 0.0, seed: int = 0):
    """The notebook's layer and the package's, built on identical base layers with the same random state."""
    torch.manual_seed(seed)
    base = nn.Linear(24, 40, bias=bias)
    torch.manual_seed(seed + 1)
    theirs = notebook_class(copy.deepcopy(base), r=r, alpha=alpha, dropout=dropout)
    torch.manual_seed(seed + 1)
    ours = LoRALinear(copy.deepcopy(base), r=r, alpha=alpha, dropout=dropout)
    return theirs, ours


def set_b(*layers, seed: int = 3) -> None:
    gen = torch.Generator().manual_seed(seed)
    value = torch.randn(layers[0].lora_B.shape, generator=gen) * 0.1
    with torch.no_grad():
        for layer in layers:
            layer.lora_B.copy_(value)


@pytest.mark.parametrize(("bias", "r", "alpha"), [(True, 4, 8), (False, 8, 16), (True, 1, 3.5)])
def test_same_init_parameters_and_scaling(notebook_class, bias, r, alpha):
    nb_layer, pkg_layer = pair(notebook_class, bias, r, alpha)
    assert nb_layer.scaling == pkg_layer.scaling
    assert torch.equal(nb_layer.lora_A, pkg_layer.lora_A)  # same init, same random draws
    assert torch.equal(nb_layer.lora_B, pkg_layer.lora_B)
    shapes = {n: (tuple(p.shape), p.requires_grad) for n, p in nb_layer.named_parameters()}
    assert shapes == {n: (tuple(p.shape), p.requires_grad) for n, p in pkg_layer.named_parameters()}
    assert nb_layer.state_dict().keys() == pkg_layer.state_dict().keys()  # adapters load into either


@pytest.mark.parametrize("bias", [True, False])
def test_same_forward_delta_merge_unmerge_and_gradients(notebook_class, bias):
    nb_layer, pkg_layer = pair(notebook_class, bias, r=4, alpha=8)
    set_b(nb_layer, pkg_layer)
    x = torch.randn(3, 5, 24)
    assert torch.equal(nb_layer(x), pkg_layer(x))
    assert torch.equal(nb_layer.delta_weight(), pkg_layer.delta_weight())

    nb_layer(x).square().sum().backward()
    pkg_layer(x).square().sum().backward()
    assert torch.equal(nb_layer.lora_A.grad, pkg_layer.lora_A.grad)
    assert torch.equal(nb_layer.lora_B.grad, pkg_layer.lora_B.grad)
    assert nb_layer.base_layer.weight.grad is None and pkg_layer.base_layer.weight.grad is None

    nb_layer.merge()
    pkg_layer.merge()
    assert nb_layer.merged and pkg_layer.merged
    assert torch.equal(nb_layer.base_layer.weight, pkg_layer.base_layer.weight)
    assert torch.equal(nb_layer(x), pkg_layer(x))
    nb_layer.unmerge()
    pkg_layer.unmerge()
    assert torch.equal(nb_layer.base_layer.weight, pkg_layer.base_layer.weight)
    assert torch.equal(nb_layer(x), pkg_layer(x))


def test_same_dropout_placement(notebook_class):
    nb_layer, pkg_layer = pair(notebook_class, True, r=4, alpha=8, dropout=0.5)
    set_b(nb_layer, pkg_layer)
    nb_layer.train(), pkg_layer.train()
    x = torch.randn(16, 24)
    torch.manual_seed(7)
    out_nb = nb_layer(x)
    torch.manual_seed(7)
    assert torch.equal(out_nb, pkg_layer(x))  # same mask on the same tensor: dropout sits in the same place
    nb_layer.eval(), pkg_layer.eval()
    assert torch.equal(nb_layer(x), pkg_layer(x))


def test_committed_notebook_is_what_the_build_script_makes(tmp_path):
    spec = importlib.util.spec_from_file_location("build_01", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = json.loads(module.build(tmp_path / "01.ipynb").read_text())["cells"]
    committed = json.loads(NOTEBOOK.read_text())["cells"]
    assert ["".join(c["source"]) for c in fresh] == ["".join(c["source"]) for c in committed], (
        "notebooks/01_lora_theory.ipynb is stale: run .venv/bin/python scripts/notebooks/build_01_lora_theory.py"
    )
