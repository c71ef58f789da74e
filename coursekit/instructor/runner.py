"""`coursekit run`: execute notebooks headless, top to bottom, and report time and result."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from coursekit.instructor import nbformat_utils as nbu
from coursekit.report import METRIC_LINE

NOTEBOOK_TIMEOUT_S = 600


@dataclass
class RunResult:
    notebook: str
    seconds: float
    status: str
    metric: str
    nb: nbformat.NotebookNode | None = None


def _kernel_env(grading: bool = False) -> dict[str, str]:
    from coursekit.checks.core import GRADING_ENV

    env = dict(os.environ)
    if grading:  # a stub's check then fails its cell instead of only saying "not attempted"
        env[GRADING_ENV] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def execute(nb: nbformat.NotebookNode, cwd: Path, *, allow_errors: bool = False,
            cell_timeout: int = NOTEBOOK_TIMEOUT_S, progress: bool = True,
            label: str = "", grading: bool = False) -> nbformat.NotebookNode:
    """Execute ``nb`` in a fresh kernel of this environment (``python3``) from ``cwd``; with
    ``grading``, its checks behave as when grading (a stub fails its cell).

    Raises nbclient's CellExecutionError on the first failing cell unless ``allow_errors``.
    """
    from nbclient import NotebookClient
    from tqdm.auto import tqdm

    from coursekit.instructor.course import KERNEL_ARGS, ensure_tools_on_path

    ensure_tools_on_path()
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                            extra_arguments=list(KERNEL_ARGS),
                            allow_errors=allow_errors, resources={"metadata": {"path": str(cwd)}})
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code")
    bar = tqdm(total=code_cells, desc=label or "notebook", unit="cell", disable=not progress,
               leave=False)

    def on_cell_executed(cell, **_):
        bar.update(1)

    client.on_cell_executed = on_cell_executed
    try:
        with client.setup_kernel(env=_kernel_env(grading)):
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
    finally:
        bar.close()
    return nb


def last_metric(nb: nbformat.NotebookNode) -> str:
    found = ""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                for m in METRIC_LINE.finditer(out.get("text", "")):
                    found = f"{m['name']} = {m['value']}"
    return found


def run_notebook(path: Path, *, save: bool = False, progress: bool = True) -> RunResult:
    """Execute one notebook; with ``save``, write it back with its outputs (canonical form)."""
    nb = nbu.read(path)
    start = time.perf_counter()
    status = "ok"
    try:
        execute(nb, path.parent, progress=progress, label=path.stem)
    except Exception as exc:  # noqa: BLE001 - reported in the table, the other notebooks still run
        name = type(exc).__name__
        detail = str(exc).strip().splitlines()
        status = f"failed: {name}" + (f": {detail[-1][:100]}" if detail else "")
    seconds = time.perf_counter() - start
    if save and status == "ok":
        nbu.write(nbu.clean(nb, keep_outputs=True), path)
    return RunResult(path.stem, seconds, status, last_metric(nb), nb)


def table(results: list[RunResult]) -> str:
    lines = [f"{'notebook':<22} {'seconds':>8}  {'status':<10} result"]
    for r in results:
        lines.append(f"{r.notebook:<22} {r.seconds:>8.1f}  {r.status:<10} {r.metric}")
    return "\n".join(lines)
