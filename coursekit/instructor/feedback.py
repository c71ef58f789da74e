"""What a student sees after grading: scores first, figures and maths rendered, no hidden tests.

Preprocessors for nbconvert's HTML export (nbgrader preprocessors, so that they run when
registered, also in nbgrader's own GenerateFeedback):

    HideHiddenTests   no hidden test, and no traceback that would quote one
    ScoreSummary      the total and each graded cell's score and status at the top, and each
                      cell's score above it (from the sandbox grader's cell metadata)
    EmbedGifs         animated figures (image/gif, which nbconvert does not render) as <img>
    OfflineMath       $...$ and $$...$$ as MathML, which browsers render without MathJax, so a
                      feedback page needs no network
"""

from __future__ import annotations

import base64
import html
import re

from nbformat.v4 import new_markdown_cell
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from nbgrader.utils import is_grade


class HideHiddenTests(NbGraderPreprocessor):
    """For every graded cell: drop the hidden-test region from the source, and replace each
    error's traceback (which quotes the failing line) by its one-line message.

    An nbgrader preprocessor (enabled by default) rather than a plain nbconvert one, which
    nbconvert registers disabled: configured but disabled, hidden tests reached students.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not is_grade(cell):
            return cell, resources
        had_hidden = ClearHiddenTests(enforce_metadata=False)._remove_hidden_test_region(cell)
        if had_hidden:
            cell.source = cell.source.rstrip() + "\n# (hidden tests run here when grading)"
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                message = str(output.get("evalue") or "").strip()
                if not message:
                    message = "a hidden test failed: check your function on other inputs"
                output["traceback"] = [f"{output.get('ename', 'Error')}: {message}"]
        return cell, resources


def _mark(score: float, max_score: float, status: str) -> str:
    return "✅" if status == "passed" else ("⏳" if status == "not attempted" else
                                            ("🟡" if score > 0 else "❌"))


class ScoreSummary(NbGraderPreprocessor):
    """A table of scores at the top, and each graded cell's score just above it."""

    def preprocess(self, nb, resources):
        graded = []
        cells = []
        for cell in nb.cells:
            result = cell.get("metadata", {}).get("coursekit", {})
            if cell.cell_type == "code" and "score" in result:
                score, max_score = float(result["score"]), float(result["max_score"])
                status = str(result.get("status", ""))
                name = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
                graded.append((name, score, max_score, status))
                cells.append(new_markdown_cell(
                    f"**{_mark(score, max_score, status)} {name}: {score:g} / {max_score:g}**"
                    + ("" if status == "passed" else f" ({html.escape(status)})")))
            cells.append(cell)
        if not graded:
            return nb, resources
        total, out_of = sum(g[1] for g in graded), sum(g[2] for g in graded)
        rows = "\n".join(f"| {_mark(s, m, st)} {n} | {s:g} / {m:g} | {html.escape(st)} |"
                         for n, s, m, st in graded)
        summary = new_markdown_cell(f"# Your score: {total:g} / {out_of:g}\n\n"
                                    "| graded cell | score | status |\n|---|---|---|\n" + rows)
        nb.cells = [summary, *cells]
        return nb, resources


class EmbedGifs(NbGraderPreprocessor):
    """image/gif outputs as an HTML <img> (nbconvert shows only their text otherwise)."""

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            gif = data.get("image/gif")
            if isinstance(gif, str) and "text/html" not in data:
                try:  # only well-formed base64 becomes an image
                    base64.b64decode(gif, validate=False)
                except ValueError:
                    continue
                clean = re.sub(r"\s", "", gif)
                data["text/html"] = f'<img src="data:image/gif;base64,{clean}" alt="animated figure">'
        return cell, resources


_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$", re.S)


def _mathml(tex: str, display: bool) -> str:
    from latex2mathml.converter import convert

    try:
        return convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - keep what cannot be converted as readable TeX
        return f"<code>{html.escape(tex)}</code>"


class OfflineMath(NbGraderPreprocessor):
    """Markdown maths as MathML (outside code spans)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "markdown" or "$" not in cell.source:
            return cell, resources
        parts = _CODE.split(cell.source)
        for i in range(0, len(parts), 2):  # even parts are outside code
            parts[i] = _MATH.sub(lambda m: _mathml(m[1] or m[2], m[1] is not None), parts[i])
        cell.source = "".join(parts)
        return cell, resources


def feedback_exporter():
    """nbconvert's HTML exporter with the preprocessors above, and no MathJax from the network."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    # A page that works offline: nothing from a CDN (no MathJax, require.js, jQuery, mermaid,
    # widgets: student outputs are text and images only).
    for url in ("mathjax_url", "require_js_url", "jquery_url", "mermaid_js_url",
                "mermaid_layout_elk_js_url", "jupyter_widgets_base_url"):
        if exporter.has_trait(url):
            setattr(exporter, url, "")
    for pre in (HideHiddenTests(), ScoreSummary(), EmbedGifs(), OfflineMath()):
        exporter.register_preprocessor(pre, enabled=True)
    return exporter
