"""Researcher-side wrappers: pandas' (and ACRO's) table and regression calls with the disclosure checks.

    from egress_review.sdc import crosstab, pivot_table, describe_by, ols, logit
    r = crosstab(df.bydel, df.aldersgruppe, entity=df.person)
    r.summary, r.outcome, r.protected
    r.export("sykefravaer_bydel.csv")   # writes the protected table and sykefravaer_bydel.csv.sdc.json
    request_export({"sykefravaer_bydel.csv": r}, ...)  # or name=... on the call; default: crosstab_bydel_aldersgruppe.csv

Runs in the notebook image: only the standard library, pandas, numpy, pyarrow, openpyxl, pyyaml, pydantic
and pillow are imported (statsmodels only when a regression is fitted).
"""

from egress_review.sdc.provenance import read_extract, where
from egress_review.sdc.regression import logit, ols
from egress_review.sdc.result import SDCResult, Summary
from egress_review.sdc.tables import crosstab, describe_by, pivot_table

__all__ = ["SDCResult", "Summary", "crosstab", "describe_by", "logit", "ols", "pivot_table", "read_extract",
           "where"]
