"""The ``publication`` profile of ``policies/disclosure.yaml``: the stricter rules for tables meant for the
open web (``sandkasse publication check|publish``), where every reader may combine a table with
everything the organisation has published before."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CellKeyNoise(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_noise: int = Field(2, ge=1, le=10)


class PublicationRounding(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: int = Field(5, ge=2)


class PublicationProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: int = Field(20, ge=2)
    method: Literal["cell_key", "rounding"] = "cell_key"
    cell_key: CellKeyNoise = CellKeyNoise()
    rounding: PublicationRounding = PublicationRounding()
    differencing: bool = True
    max_cells: int = Field(100_000, ge=1)
