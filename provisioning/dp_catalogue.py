"""The differential-privacy part of the catalogue (``policies/dp-catalogue.yaml``): per dataset, the
entity column, the contribution bound, default value bounds and the declared category domains."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from provisioning.errors import ProvisioningError
from sandkasse.settings import get_settings


class DPDataset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entity: str
    max_rows_per_entity: int = Field(ge=1, le=10_000)
    default_rows_per_entity: int = Field(ge=1)
    bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    categories: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sane(self) -> DPDataset:
        if self.default_rows_per_entity > self.max_rows_per_entity:
            raise ValueError("default_rows_per_entity exceeds max_rows_per_entity")
        for col, (lo, hi) in self.bounds.items():
            if not lo < hi:
                raise ValueError(f"bounds of {col}: lower must be below upper")
        for col, values in self.categories.items():
            if not values or len(set(values)) != len(values):
                raise ValueError(f"categories of {col}: empty or repeated values")
        return self


class DPCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    datasets: dict[str, DPDataset] = Field(default_factory=dict)


def load_catalogue(path: Path | None = None) -> DPCatalogue:
    path = path or get_settings().policies_dir / "dp-catalogue.yaml"
    if not path.is_file():
        return DPCatalogue()
    try:
        return DPCatalogue.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValueError) as exc:
        raise ProvisioningError(f"{path} is invalid: {exc}") from exc


def dp_dataset(name: str, path: Path | None = None) -> DPDataset | None:
    return load_catalogue(path).datasets.get(name)
