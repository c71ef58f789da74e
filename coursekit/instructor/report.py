"""What the class got wrong: ``OUT/report.html`` and ``OUT/grades_wide.csv``.

Written after every `coursekit grade`, and again by `coursekit report OUT` (from ``grades.csv``
and the stored jobs, which keep each failed test's whole message). The report reads offline
(plots are embedded PNGs): per notebook, the distribution of totals; per graded cell, the share
passed, failed and not attempted, and the most frequent failing sub-checks with the hint the
check gave ("41% failed 'large logits (about 1000)': subtract the max along `axis` first");
per student, their totals. ``grades_wide.csv`` has one row per student and one column per
notebook, the shape LMS gradebooks (Canvas, Moodle) import.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

from coursekit.instructor.results import CellGrade

_FIRST = re.compile(r"failed '(?P<subcheck>.+?)' \(\d+ sub-checks? passed before it\)")
_ABSENT = ("missing", "unreadable", "refused")


def failure_reason(row: CellGrade) -> tuple[str, str]:
    """(what failed, the hint) of a failed test: the check's sub-check and hint when it was a
    check, else the status itself (a hidden test's assertion, a timeout, a crash)."""
    detail = row.detail or ""
    m = _FIRST.search(detail.splitlines()[0] if detail else "")
    if m:
        hint = next((ln.strip()[len("hint:"):].strip() for ln in detail.splitlines()
                     if ln.strip().startswith("hint:")), "")
        return f"'{m['subcheck']}'", hint
    text = row.status.removeprefix("failed: ")
    return (text if len(text) <= 120 else text[:117] + "..."), ""


def read_csv(path: Path) -> list[CellGrade]:
    with path.open(encoding="utf-8") as f:
        return [CellGrade(r["student"], r["notebook"], r["cell"], float(r["score"]),
                          float(r["max_score"]), r["status"]) for r in csv.DictReader(f)]


def _with_details(out_dir: Path, rows: list[CellGrade]) -> list[CellGrade]:
    from coursekit.instructor.jobs import Store

    details = {(r["student"], r["notebook"], r["cell"]): r.get("detail", "")
               for record in Store(out_dir).records() for r in record["rows"]}
    for row in rows:
        row.detail = row.detail or details.get((row.student, row.notebook, row.cell), "")
    return rows


def write_wide_csv(rows: list[CellGrade], path: Path) -> None:
    notebooks = list(dict.fromkeys(r.notebook for r in rows))
    out_of: dict[str, float] = defaultdict(float)
    for (notebook, _), max_score in {(r.notebook, r.cell): r.max_score for r in rows}.items():
        out_of[notebook] += max_score
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        totals[r.student][r.notebook] += r.score
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *(f"{n} ({out_of[n]:g})" for n in notebooks),
                         f"total ({sum(out_of.values()):g})"])
        for student in dict.fromkeys(r.student for r in rows):
            scores = [totals[student][n] for n in notebooks]
            writer.writerow([student, *(f"{s:g}" for s in scores), f"{sum(scores):g}"])


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _notebook_plots(notebook: str, rows: list[CellGrade]) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    students = list(dict.fromkeys(r.student for r in rows))
    totals = [sum(r.score for r in rows if r.student == s) for s in students]
    cells = list(dict.fromkeys(r.cell for r in rows))
    share = {kind: [] for kind in ("passed", "failed", "not attempted")}
    for cell in cells:
        these = [r for r in rows if r.cell == cell]
        share["passed"].append(sum(r.status == "passed" for r in these) / len(these))
        share["not attempted"].append(sum(r.status == "not attempted" for r in these) / len(these))
        share["failed"].append(1 - share["passed"][-1] - share["not attempted"][-1])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 0.35 * len(cells) + 2.2))
    left.hist(totals, bins=min(20, max(5, len(set(totals)))), color="#457b9d")
    left.set_xlabel("total score")
    left.set_ylabel("students")
    left.yaxis.get_major_locator().set_params(integer=True)  # whole students
    left.set_title(f"{notebook}: totals")
    offset = [0.0] * len(cells)
    colors = {"passed": "#2a9d8f", "failed": "#e76f51", "not attempted": "#bbbbbb"}
    for kind, values in share.items():
        right.barh(cells, values, left=offset, color=colors[kind], label=kind)
        offset = [a + b for a, b in zip(offset, values, strict=True)]
    right.invert_yaxis()
    right.set_xlim(0, 1)
    right.set_xlabel("share of the class")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08 - 0.6 / fig.get_figheight()), ncol=3,
                 fontsize=8, frameon=False)  # below the axis label: never over a bar
    right.set_title("each graded cell")
    fig.tight_layout()
    return _png(fig)


def _exercise_table(rows: list[CellGrade]) -> str:
    lines = ["<table><tr><th>graded cell</th><th>mean</th><th>full marks</th>"
             "<th>not attempted</th><th>most frequent failures (share of the class): hint</th></tr>"]
    for cell in dict.fromkeys(r.cell for r in rows):
        these = [r for r in rows if r.cell == cell]
        n, max_score = len(these), these[0].max_score
        failures = Counter(failure_reason(r) for r in these if r.status.startswith(("failed", "error")))
        top = "<br>".join(
            f"{100 * k / n:.0f}% failed {html.escape(what)}" + (f": <i>{html.escape(hint)}</i>" if hint else "")
            for (what, hint), k in failures.most_common(3))
        lines.append(f"<tr><td>{html.escape(cell)}</td>"
                     f"<td>{sum(r.score for r in these) / n:.2f} / {max_score:g}</td>"
                     f"<td>{100 * sum(r.score == max_score for r in these) / n:.0f}%</td>"
                     f"<td>{100 * sum(r.status == 'not attempted' for r in these) / n:.0f}%</td>"
                     f"<td>{top or '-'}</td></tr>")
    return "\n".join(lines + ["</table>"])


def _student_table(rows: list[CellGrade]) -> str:
    notebooks = list(dict.fromkeys(r.notebook for r in rows))
    head = "".join(f"<th>{html.escape(n)}</th>" for n in notebooks)
    lines = [f"<table><tr><th>student</th>{head}<th>total</th></tr>"]
    for student in dict.fromkeys(r.student for r in rows):
        scores = [sum(r.score for r in rows if r.student == student and r.notebook == n)
                  for n in notebooks]
        cells = "".join(f"<td>{s:g}</td>" for s in scores)
        lines.append(f"<tr><td>{html.escape(student)}</td>{cells}<td>{sum(scores):g}</td></tr>")
    return "\n".join(lines + ["</table>"])


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top;font-size:14px}th{background:#f3f3f3}img{max-width:100%}"""


def report_html(rows: list[CellGrade]) -> str:
    students = list(dict.fromkeys(r.student for r in rows))
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report</title>"
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>Class report</h1><p>{len(students)} students, graded "
             f"{time.strftime('%Y-%m-%d %H:%M')}. Shares are of the students who handed the "
             "notebook in.</p>"]
    for notebook in dict.fromkeys(r.notebook for r in rows):
        handed_in = [r for r in rows if r.notebook == notebook
                     and not r.status.startswith(_ABSENT)]
        missing = len({r.student for r in rows if r.notebook == notebook}) - len(
            {r.student for r in handed_in})
        parts.append(f"<h2>{html.escape(notebook)}</h2><p>{len({r.student for r in handed_in})} "
                     f"handed in, {missing} did not.</p>")
        if handed_in:
            parts += [_notebook_plots(notebook, handed_in), _exercise_table(handed_in)]
    parts += ["<h2>Students</h2>", _student_table(rows), "</body></html>"]
    return "\n".join(parts)


def write_reports(out_dir: Path, rows: list[CellGrade]) -> None:
    write_wide_csv(rows, out_dir / "grades_wide.csv")
    (out_dir / "report.html").write_text(report_html(rows), encoding="utf-8")


def rebuild(out_dir: Path) -> None:
    """`coursekit report OUT`: the report and the wide CSV again, from grades.csv."""
    from coursekit.instructor.course import CourseError

    if not (out_dir / "grades.csv").is_file():
        raise CourseError(f"no grades.csv in {out_dir}: grade first (coursekit grade ... --out {out_dir})")
    write_reports(out_dir, _with_details(out_dir, read_csv(out_dir / "grades.csv")))
