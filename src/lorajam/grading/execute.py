"""nbgrader's ``Execute`` preprocessor, hardened for untrusted notebooks.

- the kernel runs through :class:`~lorajam.grading.sandbox.SandboxKernelManager`;
- a per-notebook time budget on top of nbgrader's per-cell timeout;
- output is capped per cell while it streams in (a print loop cannot exhaust the grader's memory);
- when the kernel dies (``os._exit``, segfault, a resource limit) the cell gets an error and a fresh
  kernel runs the remaining cells, so only the affected cells are lost.
"""

from __future__ import annotations

import time

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute

from .sandbox import SandboxSettings, manager_for

DEAD_KERNEL = "DeadKernelError"
NOTEBOOK_TIMEOUT = "NotebookTimeoutError"
CELL_TIMEOUT = "CellTimeoutError"  # nbgrader's name for a cell that ran past its timeout


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class SandboxExecute(Execute):
    """Execute with sandboxed kernels; configure through the class attributes below (one job per process)."""

    settings: SandboxSettings | None = None
    notebook_timeout: float = 600.0
    max_output_bytes: int = 1_000_000

    def __init__(self, *args, **kwargs):
        if self.settings is not None:
            kwargs["kernel_manager_class"] = manager_for(self.settings)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.notebook_timeout
        self._output_bytes: dict[int, int] = {}
        return super().preprocess(nb, resources, km)

    def _get_timeout(self, cell):
        left = max(1, int(self._deadline - time.monotonic()))
        t = super()._get_timeout(cell)
        return left if t is None or t <= 0 else min(t, left)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = sum(len(str(v)) for v in content.get("data", {}).values()) + len(content.get("text", ""))
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        if used + size > self.max_output_bytes and msg.get("msg_type") != "error":
            if used <= self.max_output_bytes:
                outs.append(NotebookNode(output_type="stream", name="stderr",
                                         text=f"\n[output truncated by the grader at {self.max_output_bytes} bytes]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type == "code" and cell.source.strip() and time.monotonic() >= self._deadline:
            cell.outputs = [_error(NOTEBOOK_TIMEOUT, f"the notebook ran past its {self.notebook_timeout:.0f} s budget")]
            return cell
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            cell.outputs = list(cell.get("outputs", [])) + [
                _error(DEAD_KERNEL, "the kernel died while running this cell (crash, os._exit or a resource "
                                    "limit); the remaining cells run in a fresh kernel")]
        except CellTimeoutError:  # the kernel ignored the interrupt: it is stuck, replace it
            cell.outputs = list(cell.get("outputs", [])) + [
                _error(CELL_TIMEOUT, "the cell ran past its timeout and the kernel did not respond to an "
                                     "interrupt; the remaining cells run in a fresh kernel")]
        await self._restart_kernel()
        return cell

    execute_cell = run_sync(async_execute_cell)  # nbconvert calls the sync wrapper; bind it to our version

    async def _restart_kernel(self) -> None:
        try:
            await self._async_cleanup_kernel()
        except Exception:  # noqa: BLE001 - the old kernel is gone either way
            self.km = self.kc = None
        self.km = self.create_kernel_manager()
        await self.async_start_new_kernel()
        await self.async_start_new_kernel_client()
