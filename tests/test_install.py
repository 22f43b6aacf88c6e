"""`make lab` starts JupyterLab on the course; conda/Binder files agree with the package's dependencies."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
import tomllib


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_serves_jupyterlab(repo_root, tmp_path):
    port = free_port()
    args = "--no-browser --ServerApp.token= --ServerApp.password= --ServerApp.ip=127.0.0.1"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    lab = subprocess.Popen(
        ["make", "-s", "lab", f"PORT={port}", f"LAB_ARGS={args}"],
        cwd=repo_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        status, deadline = None, time.monotonic() + 90
        while time.monotonic() < deadline and lab.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5) as response:
                    status = response.status
                    page = response.read().decode()
                break
            except OSError:
                time.sleep(1)
        assert lab.poll() is None, lab.stdout.read().decode()[-2000:]
        assert status == 200
        assert "JupyterLab" in page
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGTERM)
            lab.wait(timeout=30)


def test_environment_yml_lists_the_package_dependencies(repo_root):
    deps = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["dependencies"]
    env = (repo_root / "environment.yml").read_text()
    pip_section = {line.strip()[2:] for line in env.splitlines() if re.match(r"\s+- \S", line) and "=" in line}
    missing = [dep for dep in deps if dep not in pip_section]
    assert not missing, f"environment.yml's pip section lacks {missing}"
    assert "name: lorajam" in env
    assert "pip install" in (repo_root / "postBuild").read_text() and "-e ." in (repo_root / "postBuild").read_text()


def test_ci_pins_cpu_torch_but_package_does_not(repo_root):
    deps = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_dep = next(dep for dep in deps if dep.startswith("torch"))
    assert "==" not in torch_dep and "<" not in torch_dep, "Colab's torch must never be replaced"
    assert "torch==" in (repo_root / ".ci" / "constraints-cpu.txt").read_text()
