"""Checker effort (issue 16.6): page views, clicks and comments two output checkers need to decide a batch
of 10 mixed release requests (4 clean, 3 failing with a suggested table, 2 unverifiable, 1 with
unrounded counts), with the one-click buttons against the baseline measured in the same run (the flow
without them: vote form, "Submit my review", decision form, no suggested table for the researcher),
and the share of files whose automatic verdict the checkers accepted unchanged.

    .venv/bin/python bench/bench_checker_effort.py [--json figures.json]

Runs ``tests/browser/test_checker_effort.py`` (real Keycloak of the test bed, the egress service as a
uvicorn process, Debian's Chromium through Playwright; see ``tests/browser/checker_effort.py`` for what
is counted) and prints its figures as one table. Exit status 1 when the test (its goals) failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/browser/test_checker_effort.py"
KINDS = ("clean", "failing", "rounding", "unverifiable")


def run(out: Path) -> int:
    env = {**os.environ, "SANDKASSE_EFFORT_JSON": str(out)}
    cmd = [sys.executable, "-m", "pytest", TEST, "-m", "browser", "-q", "-p", "no:cacheprovider"]
    print("running:", " ".join(cmd[1:]), flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def table(flows: list[dict]) -> str:
    sys.path.insert(0, str(ROOT))
    from tests.browser.checker_effort import GOAL

    new, base = (next(f for f in flows if f["flow"] == name) for name in ("one-click", "baseline"))
    lines = [GOAL, "", f"{'file kind':<13} {'files':>5} | {'views per checker':^21} | {'clicks per checker':^21} | "
             f"{'comments typed':^15} | {'suggested table':^15}",
             f"{'':<13} {'':>5} | {'one-click':>9} {'baseline':>11} | {'one-click':>9} {'baseline':>11} | "
             f"{'1-click':>7} {'base':>7} | {'1-click':>7} {'base':>7}"]
    lines.append("-" * len(lines[-1]))
    for kind in KINDS:
        n, b = new["by_kind"].get(kind), base["by_kind"].get(kind)
        if not n or not b:
            continue
        lines.append(f"{kind:<13} {n['files']:>5} | {n['mean_views']:>9.1f} {b['mean_views']:>11.1f} | "
                     f"{n['mean_clicks']:>9.1f} {b['mean_clicks']:>11.1f} | {n['comments']:>7} {b['comments']:>7} | "
                     f"{n['suggestions_attached']:>5}/{n['files']} {b['suggestions_attached']:>5}/{b['files']}")
    lines.append("")
    for f in (new, base):
        lines.append(f"{f['flow']:<10} batch: {f['total_views']} page views ({f['queue_views']} of the queue), "
                     f"{f['total_clicks']} clicks ({f['navigation_clicks']} to open requests), {f['seconds']:.0f} s in "
                     f"the browser; automatic verdict accepted unchanged for {f['accepted_share']:.0%} of the files")
    lines.append(f"one-click / baseline: {new['total_views'] / base['total_views']:.2f} of the page views, "
                 f"{new['total_clicks'] / base['total_clicks']:.2f} of the clicks")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="keep the figures here (default: a temporary file)")
    args = ap.parse_args()
    out = args.json or Path(tempfile.mkdtemp(prefix="sandkasse-effort-")) / "effort.json"
    status = run(out)
    if not out.exists():
        print("the test wrote no figures (it failed before measuring)", file=sys.stderr)
        return 1
    print()
    print(table(json.loads(out.read_text())))
    return 1 if status else 0


if __name__ == "__main__":
    sys.exit(main())
