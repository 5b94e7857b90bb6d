"""The per-column transformations an entitlement may ask for, and which column roles allow which.

``keep``, ``pseudonymise`` and ``drop`` apply to any column except that a direct identifier may never be
kept as is; ``generalise:age5|age10`` turns a birth date (or an age) into an age band, and
``generalise:month|year`` coarsens a date."""

from __future__ import annotations

from provisioning.errors import ProvisioningError
from provisioning.models import ColumnRole

KEEP = "keep"
PSEUDONYMISE = "pseudonymise"
DROP = "drop"
GENERALISATIONS = ("age5", "age10", "month", "year")
ALL = (KEEP, PSEUDONYMISE, DROP, *(f"generalise:{g}" for g in GENERALISATIONS))


def normalise(value: str) -> str:
    text = value.strip().lower().replace("pseudonymize", "pseudonymise").replace("generalize", "generalise")
    if text in ALL:
        return text
    raise ProvisioningError(f"unknown transformation {value!r}; use one of {', '.join(ALL)}")


def check_allowed(column: str, role: ColumnRole, transformation: str) -> None:
    if role is ColumnRole.direct_identifier and transformation == KEEP:
        raise ProvisioningError(
            f"column {column!r} is a direct identifier and cannot be granted as 'keep'; use pseudonymise or drop"
        )


def output_name(column: str, transformation: str) -> str:
    """Name of the column in the extract (an age band is no longer a birth date)."""
    if transformation in ("generalise:age5", "generalise:age10"):
        return "age_band" if column in ("birth_date", "age") else f"{column}_age_band"
    return column
