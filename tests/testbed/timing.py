"""Seconds spent starting each test-bed component, printed in the pytest terminal summary and
appended to ``var/log/testbed-setup.jsonl`` so runs can be compared."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sandkasse.stack.process import log_path

SETUP_SECONDS: dict[str, float] = {}


@contextmanager
def timed(component: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        SETUP_SECONDS[component] = SETUP_SECONDS.get(component, 0.0) + time.perf_counter() - start


def summary_line() -> str | None:
    if not SETUP_SECONDS:
        return None
    parts = ", ".join(f"{name} {secs:.1f} s" for name, secs in SETUP_SECONDS.items())
    return f"test bed set-up: {parts} (total {sum(SETUP_SECONDS.values()):.1f} s)"


def record_run() -> None:
    if not SETUP_SECONDS:
        return
    entry = {"at": datetime.now(UTC).isoformat(), "seconds": {k: round(v, 2) for k, v in SETUP_SECONDS.items()}}
    with log_path("testbed-setup").with_suffix(".jsonl").open("a") as fh:
        fh.write(json.dumps(entry) + "\n")
