"""Run the real ``acro`` package (a test dependency) quietly and read its per-cell outcome as rule names."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings

import pandas as pd

ACRO_TO_RULE = {
    "MinimumThresholdCheck": "threshold",
    "PresenceOfZeroCheck": "zero",
    "NKCheck": "nk",
    "PPercentCheck": "p_percent",
    "MissingCheck": "missing",
    "negative": "negative",
    "missing": "missing",
}


@contextlib.contextmanager
def quiet_in_tmp():
    """ACRO logs at INFO, prints, and may write files: keep it in a temporary directory and silent."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        logging.disable(logging.CRITICAL)
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                yield
        finally:
            logging.disable(logging.NOTSET)
            os.chdir(old)


_SESSION = None


def acro_session(suppress: bool = False):
    global _SESSION
    with quiet_in_tmp():
        from acro import ACRO, acro_tables

        # ACRO records the calling source line via inspect.stack(), which reads the source of every frame on
        # pytest's deep stack (most of its run time here); the line is irrelevant to the checks compared.
        acro_tables.stack = lambda: []
        # Log-message builders that run even with logging disabled (whole tables rendered to text); they
        # only feed logger.debug/info and change nothing in the outcome.
        acro_tables.get_debugging_table_analysis = lambda *_: ""
        from acro import table_utils

        table_utils.utils.prettify_table_string = lambda *_, **__: ""
        if suppress:
            return ACRO(suppress=True)
        if _SESSION is None:
            _SESSION = ACRO(suppress=False)
        return _SESSION


def last_outcome(session) -> pd.DataFrame:
    rec = session.results.results[list(session.results.results)[-1]]
    return rec.outcome


def rule_sets(outcome: pd.DataFrame) -> list[list[frozenset[str]]]:
    def conv(cell: object) -> frozenset[str]:
        text = str(cell)
        if text in ("ok", "", "nan"):
            return frozenset()
        return frozenset(ACRO_TO_RULE.get(p.strip(), p.strip()) for p in text.split(";") if p.strip())

    return [[conv(x) for x in row] for row in outcome.to_numpy(dtype=object)]


def our_sets(outcome: pd.DataFrame) -> list[list[frozenset[str]]]:
    return [[frozenset(p for p in str(x).split("; ") if p) for x in row] for row in outcome.to_numpy(dtype=object)]
