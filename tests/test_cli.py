"""`lorajam` CLI: doctor's table and advice, badges, instructor commands without nbgrader."""

import subprocess
import sys

import pytest

from lorajam import cli
from lorajam.runtime import RuntimeInfo


def run_cli(*args: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lorajam.cli", *args], capture_output=True, text=True, timeout=60, env={**env}
        if env
        else None,
    )


def test_doctor_offline_prints_the_table():
    result = run_cli("doctor")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for row in ("python", "torch", "transformers", "peft", "ipywidgets", "device", "compute capability",
                "precision", "hugging face hub", "colab", "model for 'auto'"):
        assert any(line.startswith(row) for line in out.splitlines()), f"missing row {row!r}"
    assert "offline (HF_HUB_OFFLINE set)" in out
    assert "jam-tiny" in out and "fp32" in out
    assert "Traceback" not in result.stderr


def test_doctor_rows_on_a_t4_warn_about_bf16():
    t4 = RuntimeInfo(python="3.12.1", on_colab=True, device="cuda", gpu_name="Tesla T4", capability=(7, 5),
                     free_memory_gb=14.5, total_memory_gb=15.0, hub_reachable=True)
    rows = dict(cli.doctor_rows(t4))
    assert rows["precision"] == "fp16"
    assert rows["compute capability"] == "7.5"
    assert rows["gpu memory"] == "14.5 / 15.0 GiB free"
    assert rows["model for 'auto'"].startswith("HuggingFaceTB/SmolLM2-135M")
    assert any("fp16=True" in note for note in cli.doctor_warnings(t4))


def test_unknown_command_is_a_usage_error():
    result = run_cli("frobnicate")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_instructor_commands_explain_missing_nbgrader(monkeypatch, capsys):
    monkeypatch.setattr(cli.util, "find_spec", lambda name: None if name == "nbgrader" else object())
    assert cli.main(["grade", "lab1_sft", "submissions/"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'lorajam[instructor]'" in err


@pytest.mark.parametrize("argv", [["--version"]])
def test_version(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 0 and "lorajam 0.1.0" in capsys.readouterr().out
