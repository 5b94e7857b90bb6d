"""``sandkasse-export FILE... --context TEXT --controls TEXT``: submit outputs for review from a notebook
terminal; ``sandkasse-export --status`` lists your requests."""

from __future__ import annotations

import argparse
import sys

from egress_review.client import ExportError, request_export, request_export_acro, status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sandkasse-export", description="Request the export of outputs from the TRE.")
    parser.add_argument("files", nargs="*", metavar="FILE", help="output files to export")
    parser.add_argument("--context", help="what the outputs are (required)")
    parser.add_argument("--controls", help="what was done to make them safe (required)")
    parser.add_argument("--supporting", action="append", default=[], metavar="FILE",
                        help="a file the checkers may read but that never leaves (repeatable)")
    parser.add_argument("--notebook", metavar="NOTEBOOK.ipynb",
                        help="the notebook the outputs were made with: the checkers read its code; it never leaves")
    parser.add_argument("--title", default="", help="a short title for the request")
    parser.add_argument("--acro", metavar="FOLDER",
                        help="an ACRO output folder (results.json + files, from acro.finalise in Python, R or Stata)")
    parser.add_argument("--status", action="store_true", help="list your requests and their states")
    args = parser.parse_args(argv)
    try:
        if args.status:
            status()
            return 0
        if args.acro:
            if args.files:
                parser.error("give either FILEs or --acro FOLDER")
            request_export_acro(args.acro, context=args.context or "", controls=args.controls or "", title=args.title)
            return 0
        if not args.files:
            parser.error("give at least one FILE (or --status)")
        if not args.context or not args.controls:
            parser.error("--context and --controls are both required")
        request_export(args.files, context=args.context, controls=args.controls, supporting=args.supporting,
                       notebook=args.notebook, title=args.title)
        return 0
    except ExportError as exc:
        print(f"sandkasse-export: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
