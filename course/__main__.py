"""The course's two commands, run from the repository's root:

    python -m course assign [--only 03] [--no-run]       masters in course/ -> notebooks/ and dist/
    python -m course grade SUBMISSIONS [-o scores.csv]   submitted notebooks -> scores per question
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course.assign import ROOT, CourseError, assign_all
from course.grade import grade_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assign", help="generate the student notebooks, solutions and autograders",
                       description="For every master course/NN_topic.ipynb: the student notebook, run in a "
                       "kernel and stored with its outputs in notebooks/ and dist/student/; the solutions in "
                       "dist/solutions/; the autograder zip in dist/autograder/.")  # fmt: skip
    a.add_argument("--only", nargs="+", metavar="NN", help="only the masters whose names start so "
                   "(e.g. 03); default: all")  # fmt: skip
    a.add_argument("--no-run", action="store_true", help="do not run the student notebooks, and so do not "
                   "write notebooks/ (dist/ is written without outputs)")  # fmt: skip
    a.add_argument("--dist", type=Path, default=ROOT / "dist", help="where to write (default: dist/)")
    g = sub.add_parser("grade", help="grade a folder of submitted notebooks",
                       description="Run every notebook in SUBMISSIONS with its assignment's tests, public "
                       "and hidden, without Docker; print each score and write a CSV of scores per "
                       "question.")  # fmt: skip
    g.add_argument("submissions", type=Path, help="a folder of submitted .ipynb files")
    g.add_argument("-o", "--output", type=Path, default=Path("scores.csv"),
                   help="the CSV to write (default: scores.csv)")  # fmt: skip
    g.add_argument("--autograders", type=Path, default=ROOT / "dist" / "autograder",
                   help="where `assign` wrote the autograders (default: dist/autograder/)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.command == "assign":
            assign_all(args.dist, ROOT / "notebooks", run=not args.no_run, only=args.only)
        else:
            grade_folder(args.submissions, args.autograders, args.output)
            print(f"wrote {args.output}")
    except CourseError as e:
        print(f"python -m course {args.command}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
