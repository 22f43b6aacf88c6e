"""Run a Jupyter kernel inside a bubblewrap sandbox with resource limits.

The kernel talks to the grader over ZeroMQ *ipc* sockets (files in the scratch
folder), so it can live in its own network namespace with no network at all.
Only the Python installation (read-only), a private ``/tmp`` and the scratch
folder (its working directory) are visible inside.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

SANDBOX_UID = 1000
SANDBOX_HOME = "/home/student"  # where the scratch folder appears inside the sandbox
BWRAP_PACKAGE = "bubblewrap"

# Applied inside the sandbox just before the kernel starts (resource limits cannot be set by bwrap).
_LIMITS_WRAPPER = (
    "import os,resource as r,sys\n"
    "m,n,c,f=(int(x) for x in sys.argv[1:5])\n"
    "for k,v,h in ((r.RLIMIT_DATA,m,m),(r.RLIMIT_NPROC,n,n),(r.RLIMIT_CPU,c,c+5),(r.RLIMIT_FSIZE,f,f),"
    "(r.RLIMIT_CORE,0,0)):\n"
    "    v>0 and r.setrlimit(k,(v,h))\n"
    "os.environ.pop('JPY_PARENT_PID',None)\n"  # its parent pid means nothing in a pid namespace
    "os.execv(sys.argv[5],sys.argv[5:])\n"
)

# /etc entries a Python kernel needs; the rest of /etc (and everything else) stays hidden.
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
        "hosts", "mime.types", "fonts", "matplotlibrc")


@dataclass
class SandboxSettings:
    """How one kernel is confined.  ``enabled=False`` runs it unconfined (``--no-sandbox``)."""

    scratch: Path
    enabled: bool = True
    memory_mb: int = 2048
    max_procs: int = 256
    cpu_seconds: int = 600
    max_file_mb: int = 256
    threads: int = 1
    extra_ro: list[Path] = field(default_factory=list)

    @property
    def home(self) -> str:
        """The scratch folder as the kernel sees it."""
        return SANDBOX_HOME if self.enabled else str(self.scratch)


def bwrap_path() -> str | None:
    """The bubblewrap executable, or None when it is not installed."""
    return shutil.which("bwrap")


def python_roots() -> list[Path]:
    """Folders the kernel's Python needs: the venv, the base install and editable-install source trees."""
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent}
    for sp in site.getsitepackages():
        for pth in Path(sp).glob("*.pth"):
            for line in pth.read_text(errors="replace").splitlines():
                line = line.strip()
                if line and not line.startswith(("#", "import")) and Path(line).is_dir():
                    roots.add(Path(line).resolve())
    system = {Path("/usr")}
    return sorted(r for r in roots if r.is_dir() and not any(r.is_relative_to(s) for s in system))


def kernel_env(settings: SandboxSettings) -> dict[str, str]:
    """A clean environment for the kernel: no instructor variables, one thread pool per worker."""
    t = str(max(1, settings.threads))
    home = settings.home
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp" if settings.enabled else home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "IPYTHONDIR": f"{home}/.ipython",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": f"{home}/.hf",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": t,
        "MKL_NUM_THREADS": t,
        "OPENBLAS_NUM_THREADS": t,
        "TORCH_NUM_THREADS": t,
        "NBGRADER_EXECUTION": "autograde",
    }
    if "VIRTUAL_ENV" in os.environ or sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
    return env


def wrap_command(cmd: list[str], settings: SandboxSettings) -> list[str]:
    """Prefix a kernel command line with bwrap and the resource-limit wrapper."""
    limits = [sys.executable, "-S", "-c", _LIMITS_WRAPPER,
              str(settings.memory_mb * 1024 * 1024), str(settings.max_procs),
              str(settings.cpu_seconds), str(settings.max_file_mb * 1024 * 1024)]
    if not settings.enabled:
        return limits + cmd
    bwrap = bwrap_path()
    if bwrap is None:
        raise RuntimeError(f"bwrap not found: install the '{BWRAP_PACKAGE}' package")
    # bwrap itself must survive the SIGINT that interrupts a cell (sent to the whole process group);
    # ipykernel installs its own SIGINT handler, so the kernel still gets KeyboardInterrupt.
    ignore_int = [sys.executable, "-S", "-c",
                  "import os,signal,sys;signal.signal(signal.SIGINT,signal.SIG_IGN);os.execv(sys.argv[1],sys.argv[1:])"]
    args = [*ignore_int, bwrap, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        p = Path(top)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), top]
        elif p.is_dir():
            args += ["--ro-bind", top, top]
    for name in _ETC:
        p = Path("/etc") / name
        if p.exists():
            args += ["--ro-bind", str(p), str(p)]
    for root in [*python_roots(), *settings.extra_ro]:
        args += ["--ro-bind", str(root), str(root)]
    args += ["--bind", str(settings.scratch), SANDBOX_HOME, "--chdir", SANDBOX_HOME, "--"]
    return args + limits + cmd


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs confined; set ``settings`` on a subclass (see ``manager_for``)."""

    settings: SandboxSettings

    async def _async_pre_start_kernel(self, **kw):  # type: ignore[override]
        scratch = self.settings.scratch
        scratch.mkdir(parents=True, exist_ok=True)
        src = kw.pop("cwd", None)
        if src and Path(src).is_dir():  # supporting files shipped with the assignment
            for f in Path(src).iterdir():
                if f.is_file() and f.suffix != ".ipynb" and not (scratch / f.name).exists():
                    shutil.copy2(f, scratch / f.name)
        self.transport = "ipc"
        self.ip = str(scratch / ".kernel-ipc")
        self.connection_file = str(scratch / ".kernel.json")
        kw["cwd"] = str(scratch)
        kw["env"] = kernel_env(self.settings)
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        if self.settings.enabled:  # the kernel sees the scratch folder at SANDBOX_HOME: rewrite its paths
            info = json.loads(Path(self.connection_file).read_text())
            info["ip"] = f"{SANDBOX_HOME}/.kernel-ipc"
            (scratch / ".kernel-sandbox.json").write_text(json.dumps(info))
            real = os.path.realpath(self.connection_file)
            cmd = [f"{SANDBOX_HOME}/.kernel-sandbox.json" if a == real else a for a in cmd]
        kw["env"] = kernel_env(self.settings)
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL  # the kernel's own banner/log, not cell output
        return wrap_command(cmd, self.settings), kw


def manager_for(settings: SandboxSettings) -> type[SandboxKernelManager]:
    """A kernel-manager class bound to ``settings`` (nbclient instantiates the class itself)."""
    return type("BoundSandboxKernelManager", (SandboxKernelManager,), {"settings": settings})
