"""How fast a class is graded: serially, with --jobs 2, on a Dask cluster, and by plain nbgrader.

A generated class: for every student and released notebook, one of four kinds of submission in
turn (honest, partly solved, the untouched stub, broken by a SyntaxError in its first exercise).
Each way grades the same class into its own folder, from scratch; the table gives submissions per
minute, the ratio to serial, and the peak memory of one grading process with its sandboxes.
The sandboxed ways must agree on grades.csv byte for byte.

    python benchmarks/grading_throughput.py                         # 8 students, every notebook
    python benchmarks/grading_throughput.py --students 12 --notebooks 01_neurons 03_backprop
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("honest", "partial", "stub", "broken")


def make_class(subs: Path, students: int, notebooks: list[str]) -> int:
    from coursekit.instructor.course import answered_notebook

    count = 0
    for i in range(students):
        for j, stem in enumerate(notebooks):
            kind = KINDS[(i + j) % len(KINDS)]
            source = nbformat.read(str(ROOT / "solutions" / f"{stem}.ipynb"), as_version=4)
            exercises = [c.metadata["nbgrader"]["grade_id"] for c in source.cells
                         if c.metadata.get("nbgrader", {}).get("solution")]
            if kind == "stub":
                nb = nbformat.read(str(ROOT / "notebooks" / f"{stem}.ipynb"), as_version=4)
            else:
                nb = answered_notebook(ROOT, stem, only=set(exercises[:2]) if kind == "partial" else None)
            if kind == "broken":
                cell = next(c for c in nb.cells
                            if c.metadata.get("nbgrader", {}).get("grade_id") == exercises[0])
                cell.source = "def oops(:\n    pass\n\n" + cell.source
            folder = subs / f"student{i:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(folder / f"{stem}.ipynb"))
            count += 1
    return count


def peak_memory(out: Path) -> float:
    peaks = [json.loads(p.read_text()).get("peak_rss_mb", 0.0)
             for p in (out / ".grading").glob("*/*.json")]
    return max(peaks, default=0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--notebooks", nargs="*", default=None)
    parser.add_argument("--timeout", type=int, default=120)
    parser.add_argument("--skip", nargs="*", default=[], choices=["jobs2", "dask", "nbgrader"])
    args = parser.parse_args(argv)

    from coursekit.instructor.course import solution_notebooks
    from coursekit.instructor.grade import grade

    notebooks = args.notebooks or [p.stem for p in solution_notebooks(ROOT)]
    results: list[tuple[str, float, float, Path]] = []
    with tempfile.TemporaryDirectory(prefix="coursekit-throughput-") as tmp:
        tmp = Path(tmp)
        n = make_class(tmp / "subs", args.students, notebooks)
        print(f"{n} submissions: {args.students} students x {len(notebooks)} notebooks "
              f"({', '.join(notebooks)})", flush=True)

        def timed(name: str, **kwargs) -> None:
            out = tmp / name
            start = time.perf_counter()
            grade(tmp / "subs", out, ROOT, cell_timeout=args.timeout, progress=False, **kwargs)
            seconds = time.perf_counter() - start
            results.append((name, seconds, peak_memory(out) if (out / ".grading").exists() else 0.0, out))
            print(f"{name}: {seconds:.1f} s", flush=True)

        timed("serial", jobs=1)
        if "jobs2" not in args.skip:
            timed("jobs2", jobs=2)
        if "dask" not in args.skip:
            from distributed import LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster:
                timed("dask2", scheduler=cluster.scheduler_address)
        if "nbgrader" not in args.skip:
            timed("nbgrader", sandbox=False)

        serial_csv = (tmp / "serial" / "grades.csv").read_bytes()
        base = results[0][1]
        print(f"\n{'way':<10} {'seconds':>8} {'subs/min':>9} {'vs serial':>10} {'peak MB':>8}  grades.csv")
        for name, seconds, peak, out in results:
            same = "identical" if (out / "grades.csv").read_bytes() == serial_csv else "differs"
            if name == "nbgrader":
                same = "(its own statuses)"
            print(f"{name:<10} {seconds:>8.1f} {60 * n / seconds:>9.1f} {base / seconds:>9.2f}x "
                  f"{peak:>8.0f}  {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
