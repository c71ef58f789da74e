"""The `coursekit` command for instructors and students.

    coursekit release [NB ...] [--check]  regenerate notebooks/ from solutions/
    coursekit grade SUBMISSIONS --out DIR autograde <student>/<notebook>.ipynb files (--jobs N,
                                          --scheduler tcp://host:8786, --force)
    coursekit report DIR                  rebuild DIR/report.html: what the class got wrong
    coursekit validate NOTEBOOK           is my notebook gradable, do its checks pass?
    coursekit run [NOTEBOOK ...] [--save] execute notebooks headless, print a table
    coursekit figures [NAME ...]          regenerate the animated figures in imgs/
    coursekit progress                    your progress: exercises passed per notebook
    coursekit doctor                      is this environment ready for the course?
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _root(args) -> Path:
    from coursekit.instructor.course import find_root

    return Path(args.root).resolve() if args.root else find_root()


def cmd_release(args) -> int:
    from coursekit.instructor.release import release

    root = _root(args)
    stems = [Path(n).stem for n in args.notebooks] or None
    differing = release(root, check=args.check, stems=stems)
    if args.check:
        for name in differing:
            why = ("differs from what solutions/ generates" if name.startswith("notebooks/") else
                   "has a Colab badge, setup cell or figure that pyproject.toml or imgs/ no "
                   "longer matches")
            print(f"stale: {name} {why}; run `coursekit release`")
        if not differing:
            print("notebooks/ is up to date with solutions/ and pyproject.toml")
        return 1 if differing else 0
    for name in differing:
        print(f"updated {name}")
    print("notebooks/ is up to date" if not differing else f"{len(differing)} notebook(s) regenerated")
    return 0


def cmd_grade(args) -> int:
    from coursekit.instructor.grade import grade

    try:
        grade(Path(args.submissions), Path(args.out), _root(args), cell_timeout=args.timeout,
              sandbox=not args.no_sandbox, jobs=args.jobs, scheduler=args.scheduler,
              force=args.force, progress=not args.quiet)
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_report(args) -> int:
    from coursekit.instructor.report import rebuild

    rebuild(Path(args.out).resolve())
    print(f"wrote {Path(args.out) / 'report.html'} and grades_wide.csv")
    return 0


def cmd_validate(args) -> int:
    from coursekit.instructor.validate import validate

    return validate(Path(args.notebook).resolve(), Path(args.root).resolve() if args.root else None,
                    progress=not args.quiet)


def cmd_run(args) -> int:
    from coursekit.instructor.course import solution_notebooks
    from coursekit.instructor.runner import run_notebook, table

    # a path, or a solution's name as `release` takes it ("12_distributed")
    paths = [Path(p) if Path(p).is_file() or p.endswith(".ipynb")
             else _root(args) / "solutions" / f"{p}.ipynb" for p in args.notebooks]
    paths = paths or solution_notebooks(_root(args))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    results = []
    for path in paths:
        results.append(run_notebook(path, save=args.save, progress=not args.quiet))
        print(f"{path.stem}: {results[-1].status} in {results[-1].seconds:.1f} s", flush=True)
    print(table(results))
    return 0 if all(r.status == "ok" for r in results) else 1


def cmd_figures(args) -> int:
    from coursekit.figures import main as figures_main

    return figures_main(args.rest)


def cmd_progress(args) -> int:
    from coursekit.tracking import progress_file, table

    print(table())
    print(f"(recorded locally in {progress_file()}; COURSEKIT_PROGRESS=0 turns recording off)")
    return 0


def cmd_doctor(args) -> int:
    from coursekit.instructor.doctor import main as doctor_main

    return doctor_main([])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coursekit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="course repository root (default: found from the current folder)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="regenerate notebooks/ from solutions/ with nbgrader")
    p.add_argument("notebooks", nargs="*", help="only these (e.g. 04_losses); default: all")
    p.add_argument("--check", action="store_true", help="only compare; exit 1 naming stale notebooks")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("grade", help="autograde SUBMISSIONS/<student>/<notebook>.ipynb")
    p.add_argument("submissions")
    p.add_argument("--out", required=True, help="folder for grades.csv and feedback/")
    p.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="grade with plain nbgrader: student code runs with YOUR rights (unsafe)")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help="submissions graded at once on this machine (default: one per CPU core)")
    p.add_argument("--scheduler", default=None,
                   help="grade on a Dask cluster instead, e.g. tcp://host:8786 (coursekit[cluster])")
    p.add_argument("--force", action="store_true",
                   help="grade everything again (default: only new or changed submissions)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("report", help="rebuild OUT/report.html and grades_wide.csv from OUT/grades.csv")
    p.add_argument("out")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("validate", help="check a notebook is gradable and its checks pass")
    p.add_argument("notebook")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="execute notebooks headless (default: every solution)")
    p.add_argument("notebooks", nargs="*")
    p.add_argument("--save", action="store_true", help="write outputs back (for solutions/)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("figures", help="regenerate the figures in imgs/", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("progress", help="your progress: exercises passed per notebook")
    p.set_defaults(func=cmd_progress)

    p = sub.add_parser("doctor", help="check this environment can run the course")
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["figures"]:
        # argparse's REMAINDER drops leading options (`figures --check`): hand over untouched.
        return cmd_figures(argparse.Namespace(rest=argv[1:]))
    args = build_parser().parse_args(argv)
    from coursekit.instructor.course import CourseError

    try:
        return args.func(args)
    except CourseError as exc:
        print(f"coursekit: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
