"""The suggested tables of a returned request, in the notebook:

    from egress_review.client import suggestions
    tables = suggestions("<request id>")   # {"sick_days_by_area.csv": DataFrame, ...}
    tables["sick_days_by_area.csv"].to_csv("sick_days_by_area.csv")   # then upload it and resubmit

The checkers attach the automatic checks' safe version (failing cells suppressed, counts rounded) when
both of them return a file with it. The service gives the cells only to the project token this
notebook server holds.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from egress_review.client import EgressClient

if TYPE_CHECKING:
    import pandas as pd


def suggestions(request_id: str, *, client: EgressClient | None = None, show: bool = True) -> dict[str, pd.DataFrame]:
    """Each returned file's latest suggested table, by file name."""
    import pandas as pd  # here, not at import: the client and egress_review.dp load no data library

    own = client is None
    client = client or EgressClient()
    try:
        rows = client.suggestions(request_id)
        latest = {r["file_id"]: r for r in rows}  # oldest first: the last one per file wins
        out = {r["name"]: pd.read_csv(io.BytesIO(client.suggestion(request_id, fid)), index_col=0)
               for fid, r in latest.items()}
    finally:
        if own:
            client.close()
    if show:
        if not out:
            print(f"No suggested table is attached to request {request_id}.")
        for name, table in out.items():
            r = next(x for x in latest.values() if x["name"] == name)
            print(f"{name} (version {r['version']}): suggested safe version, {r['blank_cells']} blank cells")
            print(table.to_string(max_rows=30))
    return out
