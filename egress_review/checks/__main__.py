"""``python -m egress_review.checks FILE [--sidecar F] [--policy P] --json``: the server-side re-check."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from egress_review.checks.api import check_file, report_json
from egress_review.checks.policy import load_disclosure_policy
from egress_review.checks.sidecar import sidecar_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m egress_review.checks", description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--sidecar", type=Path, default=None,
                        help="sidecar JSON (default: FILE.sdc.json when it exists)")
    parser.add_argument("--policy", type=Path, default=None, help="disclosure policy YAML")
    parser.add_argument("--name", default=None, help="the name the file was submitted under (default: its own)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    sidecar = args.sidecar
    if sidecar is None and sidecar_path(args.file).exists():
        sidecar = sidecar_path(args.file)
    report = check_file(args.file, declared_name=args.name or args.file.name, sidecar=sidecar,
                        policy=load_disclosure_policy(args.policy))
    if args.json:
        print(report_json(report))
    else:
        print(f"{args.file}: {report.verdict} ({report.file_type})")
        for f in report.flags:
            print(f"  [{f.severity}] {f.rule}: {f.message}")
        if report.unverifiable:
            print(f"  unverifiable: {', '.join(report.unverifiable)}")
    return {"pass": 0, "review": 1, "fail": 2}[report.verdict]


if __name__ == "__main__":
    sys.exit(main())
