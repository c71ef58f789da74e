"""What a student sees after grading: no hidden tests, and no traceback that would quote them."""

from __future__ import annotations

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
