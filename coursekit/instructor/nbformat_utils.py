"""One canonical way to store notebooks: the same bytes whoever saves them, no stray metadata."""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOK_METADATA_KEYS = ("kernelspec", "language_info", "colab", "accelerator")
CELL_METADATA_KEYS = ("nbgrader", "tags")
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def clean(nb: nbformat.NotebookNode, *, keep_outputs: bool) -> nbformat.NotebookNode:
    """Keep only the metadata the course needs (kernel, Colab runtime, nbgrader), and drop
    outputs unless asked to keep them. Mutates and returns ``nb``."""
    nb.metadata = nbformat.from_dict(
        {k: nb.metadata[k] for k in NOTEBOOK_METADATA_KEYS if k in nb.metadata}
    )
    if "language_info" in nb.metadata:
        nb.metadata.language_info = nbformat.from_dict({"name": "python"})
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict(
            {k: cell.metadata[k] for k in CELL_METADATA_KEYS if k in cell.metadata}
        )
        if cell.cell_type == "code":
            if not keep_outputs:
                cell.outputs = []
                cell.execution_count = None
            cell.outputs = _merge_streams(cell.outputs)
            for output in cell.outputs:
                # nbclient stamps outputs with per-run metadata; only display data needs any.
                if "metadata" in output and output.get("output_type") != "display_data":
                    output.metadata = nbformat.from_dict({})
        if not cell.get("attachments"):
            cell.pop("attachments", None)
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def _merge_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) chunks: how a kernel splits printed text depends on
    timing, and stored notebooks must not change from one run to the next."""
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and prev is not None
                and prev.get("output_type") == "stream" and prev.get("name") == out.get("name")):
            prev["text"] = prev["text"] + out["text"]
        else:
            merged.append(out)
    return merged


def dumps(nb: nbformat.NotebookNode) -> str:
    """Canonical text of a notebook (sorted keys, one-space indent, final newline)."""
    return nbformat.writes(nb, version=4) + "\n"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def write(nb: nbformat.NotebookNode, path: Path) -> bool:
    """Write ``nb`` canonically; returns whether the file changed."""
    text = dumps(nb)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def find_markers(text: str) -> list[str]:
    """The solution/hidden-test markers that appear in ``text``."""
    return [m for m in SOLUTION_MARKERS if m in text]
