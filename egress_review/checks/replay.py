"""Does a submitted table equal the one the replay made from the data? (Pure: two tables in, a verdict out.)

The replay itself reads the project's extract and so lives outside the checks (``egress_review.replay``);
here only the comparison and how its outcome shows in a report."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

# Floats are written by the same pandas in the notebook and in the check worker, so an honest table is
# normally byte-identical; a table re-saved by another tool may print floats at another precision.
RTOL = 1e-9
ATOL = 1e-12

REPRODUCED = "reproduced"
MISMATCH = "mismatch"
NOT_REPLAYABLE = "not_replayable"


class ReplayNote(BaseModel):
    """What the replay found, for the report: ``detail`` names the first difference or the reason."""

    status: Literal["reproduced", "mismatch", "not_replayable"]
    detail: str = ""
    bit_for_bit: bool = False


def table_differences(submitted: pd.DataFrame, replayed: pd.DataFrame, rtol: float = RTOL,
                      atol: float = ATOL, limit: int = 5) -> list[str]:
    """Where the submitted table differs from the replayed one (empty: they agree)."""
    if submitted.shape != replayed.shape:
        return [f"the file has {submitted.shape[0]}x{submitted.shape[1]} cells, the data gives "
                f"{replayed.shape[0]}x{replayed.shape[1]}"]
    if [str(x) for x in submitted.index] != [str(x) for x in replayed.index]:
        return ["the row labels differ from the data's"]
    if [str(x) for x in submitted.columns] != [str(x) for x in replayed.columns]:
        return ["the column labels differ from the data's"]
    out: list[str] = []
    for j, col in enumerate(submitted.columns):
        a, b = submitted.iloc[:, j], replayed.iloc[:, j]
        an = pd.to_numeric(a, errors="coerce").to_numpy(dtype=float)
        bn = pd.to_numeric(b, errors="coerce").to_numpy(dtype=float)
        text_a = a.isna().to_numpy() | ~np.isnan(an)
        text_b = b.isna().to_numpy() | ~np.isnan(bn)
        numeric = text_a & text_b
        same = np.where(numeric, np.isclose(an, bn, rtol=rtol, atol=atol, equal_nan=True), False)
        if not numeric.all():
            same[~numeric] = (a.astype(str).to_numpy()[~numeric] == b.astype(str).to_numpy()[~numeric])
        for i in np.flatnonzero(~same)[: max(limit - len(out), 0)]:
            out.append(f"cell ({submitted.index[i]}, {col}) is {a.iloc[i]} in the file and {b.iloc[i]} from the data")
        if len(out) >= limit:
            break
    return out


def replay_message(note: ReplayNote) -> tuple[str, str, str] | None:
    """(rule, severity, message) of the flag a replay outcome makes; None when it needs no flag."""
    if note.status == MISMATCH:
        return ("replay", "fail", "the table does not match the data: made again from the project's extract with "
                f"the call its sidecar records, {note.detail}")
    if note.status == NOT_REPLAYABLE:
        return ("replay", "review", f"the table is not replayable ({note.detail}); its counts and contributions "
                "are the researcher's own, not verified against the data")
    return None


def replay_summary(note: ReplayNote) -> str:
    """The report's ``replay`` field."""
    if note.status == REPRODUCED:
        how = "bit-for-bit" if note.bit_for_bit else f"within a relative tolerance of {RTOL:g}"
        return f"reproduced from the data ({how}); the checks used the replay's statistics"
    if note.status == MISMATCH:
        return "does not match the data"
    return "not replayable"
