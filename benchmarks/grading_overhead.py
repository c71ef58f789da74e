"""Time grading one honest submission with the sandbox and with plain nbgrader.

Both ways grade the same submission (the student notebook answered with the solution code)
and make feedback, so the comparison is per submission, end to end:

* sandbox: ``coursekit.instructor.sandbox.grade_submission`` (student code in bubblewrap, tests in this
  process) and ``feedback_html``;
* plain nbgrader: ``coursekit.instructor.nbgrader_grader.NbgraderGrader.grade_one`` (autograde in one kernel, gradebook,
  feedback), what ``coursekit grade --no-sandbox`` does.

One warm-up run of each is not counted (imports, nbgrader's database). Runs alternate between
the two so that load from other processes hits both alike.

Usage::

    python benchmarks/grading_overhead.py                 # notebook 01, 5 runs each
    python benchmarks/grading_overhead.py -n 10 --notebook 01_neurons
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from coursekit.instructor.course import answered_notebook

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5, help="timed runs of each (default 5)")
    parser.add_argument("--notebook", default="01_neurons")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    args = parser.parse_args(argv)

    from coursekit.instructor.nbgrader_grader import NbgraderGrader
    from coursekit.instructor.submissions import load_submission
    from coursekit.instructor.sandbox import feedback_html, grade_submission, sandbox_problem

    problem = sandbox_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    source = ROOT / "solutions" / f"{args.notebook}.ipynb"
    times: dict[str, list[float]] = {"sandbox": [], "nbgrader": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "submissions" / "student" / f"{args.notebook}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(answered_notebook(ROOT, args.notebook), str(path))
        grader = NbgraderGrader({args.notebook: source}, tmp / "out", cell_timeout=args.timeout)
        submitted, _ = load_submission(path)

        def sandboxed(i: int) -> float:
            start = time.perf_counter()
            rows, executed = grade_submission(source, path, student=f"s{i}", cell_timeout=args.timeout)
            feedback_html(executed)
            seconds = time.perf_counter() - start
            assert all(r.status == "passed" for r in rows), rows
            return seconds

        def plain(i: int) -> float:
            start = time.perf_counter()
            rows = grader.grade_one(f"s{i}", args.notebook, submitted)
            seconds = time.perf_counter() - start
            assert all(r.status == "passed" for r in rows), rows
            return seconds

        sandboxed(0), plain(0)  # warm-up, not counted
        for i in range(1, args.n + 1):
            times["sandbox"].append(sandboxed(i))
            times["nbgrader"].append(plain(i))
            print(f"run {i}: sandbox {times['sandbox'][-1]:.2f} s, "
                  f"nbgrader {times['nbgrader'][-1]:.2f} s", flush=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{args.notebook}, {args.n} runs each, seconds per submission (grading + feedback)")
    print(f"{'mode':<30} {'median':>8} {'min':>8} {'max':>8}")
    for key, label in (("nbgrader", "plain nbgrader (--no-sandbox)"), ("sandbox", "sandbox (default)")):
        print(f"{label:<30} {med[key]:>8.2f} {min(times[key]):>8.2f} {max(times[key]):>8.2f}")
    print(f"sandbox overhead: {100 * (med['sandbox'] / med['nbgrader'] - 1):+.0f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
