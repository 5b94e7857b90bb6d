"""``python -m egress_review.dp_service.worker``: one DP query in a child process. Reads the plan
(JSON) on standard input, reads the extract file it names, and writes the noisy answer (JSON) on
standard output. The service never loads the data libraries itself (tests/integration/egress/
test_egress_memory.py) and never sees the raw aggregate."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def read_extract(path: Path, columns: list[str]):  # noqa: ANN201 - a pandas DataFrame
    import pandas as pd

    if path.suffix == ".parquet":
        return pd.read_parquet(path, columns=columns)
    return pd.read_csv(path, usecols=columns, dtype=str)


def main() -> int:
    plan = json.loads(sys.stdin.read())
    from egress_review.dp_service.compute import answer

    columns = list(dict.fromkeys([plan["entity"], *plan["columns"]]))
    try:
        result = answer(plan, read_extract(Path(plan["path"]), columns))
    except Exception as exc:  # noqa: BLE001 - reported to the service, which answers with a message
        json.dump({"error": f"{type(exc).__name__}: {exc}"}, sys.stdout)
        return 1
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
