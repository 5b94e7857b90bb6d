"""The disclosure policy (``policies/disclosure.yaml``) as a pydantic model.

Defaults mirror ACRO 1.0.2's ``default.yaml`` so that a missing key behaves like ACRO; the YAML file is
what an auditor reads, and code never hides a threshold in a constant.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from egress_review.checks.publication_policy import PublicationProfile

Severity = Literal["fail", "review"]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    severity: Severity = "fail"


class ThresholdRule(_Rule):
    min_count: int = Field(10, ge=1)


class ZeroRule(_Rule):
    pass


class NKRule(_Rule):
    n: int = Field(2, ge=1)
    k: float = Field(0.9, gt=0, le=1)


class PPercentRule(_Rule):
    p: float = Field(0.10, gt=0, lt=1)


class NegativeRule(_Rule):
    severity: Severity = "review"


class MissingRule(_Rule):
    enabled: bool = False
    severity: Severity = "review"


class DofRule(_Rule):
    min_dof: int = Field(10, ge=1)


class RoundingRule(_Rule):
    """Published counts must be rounded (OpenSAFELY: base 6, method midpoint; else base 5, nearest)."""
    enabled: bool = False
    base: int = Field(5, ge=2)
    method: Literal["nearest", "midpoint"] = "nearest"


class EntityPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    require_for_person_level: bool = True


class IdentifierRule(_Rule):
    national_id: bool = True
    email: bool = True
    phone: bool = True
    project_values: bool = True
    min_value_length: int = Field(4, ge=1)


class RecordLevelRule(_Rule):
    min_rows: int = 20
    distinct_label_fraction: float = Field(1.0, gt=0, le=1)
    distinct_label_min_rows: int = 50
    count_one_fraction: float = Field(0.5, gt=0, le=1)
    entitled_row_ratio: float = Field(0.8, gt=0, le=1)


class SecondarySuppression(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    line_total_min: int = 10
    min_interval: float = 5


class DifferencingRule(_Rule):
    pass


class ReplayPolicy(BaseModel):
    """Tables replayed from the project's extract by the check worker (``egress_review.replay``)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    # a table its sidecar cannot describe: "note" says so in the report, "review" also sends it to a checker
    not_replayable: Literal["note", "review"] = "note"


FileType = Literal["csv", "tsv", "xlsx", "parquet", "png", "svg", "pdf", "txt", "md", "ipynb"]


class FilePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_bytes: int = Field(20_000_000, ge=1)
    allowed_types: list[FileType] = ["csv", "tsv", "xlsx", "parquet", "png", "svg", "pdf", "txt", "md", "ipynb"]
    archives: Literal["refuse"] = "refuse"
    notebooks: Literal["check", "refuse"] = "check"
    strip_image_metadata: bool = True
    max_flags_per_rule: int = Field(200, ge=1)


class DisclosurePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    threshold: ThresholdRule = ThresholdRule()
    zero: ZeroRule = ZeroRule()
    nk: NKRule = NKRule()
    p_percent: PPercentRule = PPercentRule()
    negative: NegativeRule = NegativeRule()
    missing: MissingRule = MissingRule()
    dof: DofRule = DofRule()
    rounding: RoundingRule = RoundingRule()
    entity: EntityPolicy = EntityPolicy()
    identifier: IdentifierRule = IdentifierRule()
    record_level: RecordLevelRule = RecordLevelRule()
    secondary_suppression: SecondarySuppression = SecondarySuppression()
    differencing: DifferencingRule = DifferencingRule()
    replay: ReplayPolicy = ReplayPolicy()
    files: FilePolicy = FilePolicy()
    publication: PublicationProfile = PublicationProfile()

    def severity_of(self, rule: str) -> Severity:
        section = getattr(self, rule, None)
        return getattr(section, "severity", "fail")


def _default_policy_file() -> Path | None:
    """Where ``disclosure.yaml`` lives when ``sandkasse.settings`` cannot be imported (the notebook image)."""
    env_dir = os.environ.get("SANDKASSE_POLICIES_DIR")
    candidates = [Path(env_dir) / "disclosure.yaml"] if env_dir else []
    candidates.append(Path(__file__).resolve().parents[2] / "policies" / "disclosure.yaml")
    return next((c for c in candidates if c.is_file()), None)


def load_disclosure_policy(path: Path | None = None) -> DisclosurePolicy:
    """Read ``policies/disclosure.yaml`` (or ``path``).

    On the server this goes through ``sandkasse.policy.load_policy`` (settings decide the policies
    directory). The notebook image has no pydantic-settings, so there the file is read directly from
    ``$SANDKASSE_POLICIES_DIR`` or the source tree, and without any file the ACRO defaults apply.
    """
    try:
        from sandkasse.policy import load_policy  # server side; needs pydantic-settings
    except ImportError:
        load_policy = None
    if load_policy is not None:
        return load_policy(DisclosurePolicy, name="disclosure", path=path)
    target = path or _default_policy_file()
    if target is None:
        return DisclosurePolicy()
    raw = yaml.safe_load(Path(target).read_text(encoding="utf-8")) or {}
    return DisclosurePolicy.model_validate(raw)
