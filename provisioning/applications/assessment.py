"""Automatic pre-assessment of a data-access application, computed on the real source data inside the
TRE and reported as aggregate figures only: DPIA screening, data-minimisation findings, suggested
transformations, and the k-anonymity / l-diversity the extract would have as asked and as suggested.

The functions here are pure: (application, catalogue metadata, source frames) -> :class:`PreAssessment`.
The extract is built with the extract builder's own transformations and its risk figures come from
:func:`provisioning.extracts.extract_risk`, so k as asked is the k the real extract would get for the
same grants. Only the summary figures of the risk report are kept: its "highest-risk records" hold row
values and never enter the assessment (the applicant is not yet approved to see any row)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from provisioning import transformations
from provisioning.applications.content import ApplicationContent
from provisioning.catalogue_meta import DatasetMeta
from provisioning.errors import ProvisioningError
from provisioning.extracts import extract_risk, read_source, transform
from provisioning.models import ColumnRole
from provisioning.policy import ProvisioningPolicy
from provisioning.policy import current as provisioning_policy
from sandkasse.policy import load_policy


class DpiaPolicy(BaseModel):
    criteria_for_dpia: int = Field(ge=1)
    large_scale_people: int = Field(ge=1)
    vulnerable_subjects: list[str]


class MinimisationPolicy(BaseModel):
    max_suggestion_steps: int = Field(ge=0, le=100)


class AssessmentPolicy(BaseModel):
    version: int
    dpia: DpiaPolicy
    minimisation: MinimisationPolicy


def load_assessment_policy(path: Path | None = None) -> AssessmentPolicy:
    return load_policy(AssessmentPolicy, "assessment", path=path)


# -- the result --------------------------------------------------------------------------------------


class RiskFigures(BaseModel):
    """Aggregate re-identification figures of one extract (the risk report's summary, no rows)."""

    records: int
    people: int | None = None  # distinct pseudonyms, when the extract keeps a person key
    quasi_identifiers: list[str]
    k: int
    k_people: int | None = None
    classes: int
    classes_below_k: int
    records_below_k: int
    share_below_k: float
    meets_k: bool
    l: dict[str, int] = Field(default_factory=dict)  # sensitive column -> l
    classes_below_l: dict[str, int] = Field(default_factory=dict)
    policy_min_k: int
    policy_min_l: int


class Finding(BaseModel):
    dataset: str
    column: str | None = None
    kind: Literal[
        "unknown_dataset", "unknown_column", "bad_transformation", "no_justification", "direct_identifier_kept",
        "direct_identifier", "quasi_identifiers_below_k", "sensitive_below_l", "special_category_without_art9",
    ]
    severity: Literal["block", "warn", "info"]
    message: str


class Criterion(BaseModel):
    id: str
    source: Literal["datatilsynet", "edpb"]
    title: str
    met: bool
    evidence: str = ""


class DpiaScreening(BaseModel):
    required: bool
    reasons: list[str]
    criteria: list[Criterion]


class QuasiIdentifierEffect(BaseModel):
    """What dropping one quasi-identifier would do to k (the combination's weakest link)."""

    column: str
    k_without: int


class DatasetAssessment(BaseModel):
    dataset: str
    asked: dict[str, str]
    suggested: dict[str, str]
    as_asked: RiskFigures | None = None
    as_suggested: RiskFigures | None = None
    quasi_identifier_effects: list[QuasiIdentifierEffect] = Field(default_factory=list)


class PreAssessment(BaseModel):
    title: str
    computed_at: datetime
    dpia: DpiaScreening
    findings: list[Finding]
    datasets: list[DatasetAssessment]

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "block"]


# -- the extract as it would be built ------------------------------------------------------------------


def extract_as_asked(
    source: pd.DataFrame, meta: DatasetMeta, columns: Mapping[str, str], *, reference: date,
    policy: ProvisioningPolicy, key: bytes | None = None,
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """The extract the grant ``columns`` (column -> transformation) would give, with its column
    descriptions, transformed by the extract builder's own code (pseudonyms under a throw-away key:
    risk figures depend on which values are equal, not on the key)."""
    key = key or secrets.token_bytes(32)
    out: dict[str, pd.Series] = {}
    described = []
    for name, how in columns.items():
        how = transformations.normalise(how)
        if how == transformations.DROP:
            continue
        column = meta.column(name)
        role = column.role if column is not None else ColumnRole.other
        out_name = transformations.output_name(name, how)
        out[out_name] = transform(source[name], how, key, policy, reference).reset_index(drop=True)
        described.append({"name": out_name, "source": name, "role": role.value, "transformation": how})
    return pd.DataFrame(out, index=pd.RangeIndex(len(source))), described


def risk_figures(frame: pd.DataFrame, described: list[dict[str, str]], policy: ProvisioningPolicy) -> RiskFigures:
    report = extract_risk(frame, described, policy)
    s = report["summary"]
    person = next((d["name"] for d in described if d["transformation"] == transformations.PSEUDONYMISE
                   and d["role"] == ColumnRole.direct_identifier.value), None)
    return RiskFigures(
        records=s["records"], people=int(frame[person].nunique()) if person else None,
        quasi_identifiers=s["quasi_identifiers"], k=s["k"], k_people=s.get("k_people"), classes=s["classes"],
        classes_below_k=s["classes_below_k"], records_below_k=s["records_below_k"], share_below_k=s["share_below_k"],
        meets_k=bool(s["meets_k"]), l={c: d["l"] for c, d in report["l_diversity"].items()},
        classes_below_l={c: d["classes_below_l"] for c, d in report["l_diversity"].items()},
        policy_min_k=s["policy_min_k"], policy_min_l=s["policy_min_l"],
    )


# -- minimisation ---------------------------------------------------------------------------------------

_DATE_KINDS = ("timestamp", "date")


def _is_date(meta: DatasetMeta, name: str, source: pd.DataFrame) -> bool:
    column = meta.column(name)
    if column is not None and column.dtype.startswith(_DATE_KINDS):
        return True
    return name in source.columns and pd.api.types.is_datetime64_any_dtype(source[name])


def _person_key(meta: DatasetMeta, asked: Mapping[str, str]) -> str | None:
    """The direct identifier that names the person (kept as a pseudonym to link and count people)."""
    ids = [c for c in meta.columns if c.role is ColumnRole.direct_identifier and c.name in asked]
    ranked = sorted(ids, key=lambda c: ("identif" not in c.meaning.lower() and not c.name.endswith("id"), c.name))
    return ranked[0].name if ranked else None


def _coarser(how: str, is_date: bool, name: str) -> str | None:
    """One step coarser than ``how`` for a quasi-identifier, or None when only dropping is left."""
    if how == transformations.KEEP and is_date:
        return "generalise:age10" if name in ("birth_date", "age") else "generalise:month"
    if how == "generalise:age5":
        return "generalise:age10"
    if how == "generalise:month":
        return "generalise:year"
    return None


def suggest(
    source: pd.DataFrame, meta: DatasetMeta, asked: Mapping[str, str], *, reference: date,
    policy: ProvisioningPolicy, justified: Mapping[str, bool], max_steps: int, key: bytes,
) -> dict[str, str]:
    """The least change to ``asked`` that the catalogue's rules and the policy's k call for: names and
    addresses dropped, the person key pseudonymised, unjustified columns dropped, exact dates of
    quasi-identifiers coarsened, then (while k is below the policy) the quasi-identifier whose
    coarsening or removal raises k most, one step at a time."""
    person = _person_key(meta, asked)
    out: dict[str, str] = {}
    for name, how in asked.items():
        column = meta.column(name)
        if column is None:
            continue
        how = transformations.normalise(how)
        if how != transformations.DROP and not justified.get(name, False):
            how = transformations.DROP
        elif column.role is ColumnRole.direct_identifier and how != transformations.DROP:
            how = transformations.PSEUDONYMISE if name == person else transformations.DROP
        elif column.role is ColumnRole.quasi_identifier and how == transformations.KEEP and _is_date(meta, name, source):
            how = _coarser(how, True, name) or how
        out[name] = how

    def score(grant: Mapping[str, str]) -> tuple[int, int]:
        frame, described = extract_as_asked(source, meta, grant, reference=reference, policy=policy, key=key)
        figures = risk_figures(frame, described, policy)
        return figures.k, figures.records_below_k

    k, _ = score(out)
    for _ in range(max_steps):
        if k >= policy.risk.min_k:
            break
        options = []
        for name, how in out.items():
            column = meta.column(name)
            if column is None or column.role is not ColumnRole.quasi_identifier or how == transformations.DROP:
                continue
            step = _coarser(how, _is_date(meta, name, source), name) or transformations.DROP
            step_k, below = score({**out, name: step})
            reaches = step_k >= policy.risk.min_k
            # of the steps that reach the policy's k: coarsening before dropping, then the one that
            # loses least (the smallest k that is enough); else the one leaving the fewest records
            # below k; then by name so the suggestion is stable
            dropping = step == transformations.DROP
            rank = (False, dropping, step_k, name) if reaches else (True, below, -step_k, dropping, name)
            options.append((rank, name, step, step_k))
        if not options:
            break
        _, name, step, k = min(options)
        out[name] = step
    return out


def _minimisation_findings(
    content: ApplicationContent, name: str, meta: DatasetMeta, figures: RiskFigures | None,
    effects: list[QuasiIdentifierEffect],
) -> list[Finding]:
    findings: list[Finding] = []
    for col, ask in content.datasets[name].columns.items():
        column = meta.column(col)
        if column is None:
            findings.append(Finding(dataset=name, column=col, kind="unknown_column", severity="block",
                                    message=f"{name} has no column {col!r}"))
            continue
        try:
            how = transformations.normalise(ask.transformation)
        except ProvisioningError as exc:
            findings.append(Finding(dataset=name, column=col, kind="bad_transformation", severity="block", message=str(exc)))
            continue
        if how == transformations.DROP:
            continue
        if not ask.justification.strip():
            findings.append(Finding(dataset=name, column=col, kind="no_justification", severity="warn",
                                    message=f"{col} is asked for without saying why it is needed"))
        if column.role is ColumnRole.direct_identifier:
            if how == transformations.KEEP:
                findings.append(Finding(dataset=name, column=col, kind="direct_identifier_kept", severity="block",
                                        message=f"{col} ({column.meaning or 'direct identifier'}) is a direct identifier "
                                                "asked for as it is; it can only be pseudonymised or dropped"))
            else:
                findings.append(Finding(dataset=name, column=col, kind="direct_identifier", severity="info",
                                        message=f"{col} is a direct identifier, asked for as {how}: needed only to link "
                                                "or count people"))
    if figures is not None and not figures.meets_k:
        weakest = sorted(effects, key=lambda e: -e.k_without)[:3]
        hint = "; ".join(f"without {e.column}: k={e.k_without}" for e in weakest)
        findings.append(Finding(
            dataset=name, kind="quasi_identifiers_below_k", severity="warn",
            message=f"the combination {' + '.join(figures.quasi_identifiers)} gives k={figures.k} (policy {figures.policy_min_k}): "
                    f"{figures.classes_below_k} classes holding {figures.records_below_k} records ({figures.share_below_k:.1%}) "
                    f"are below k" + (f" ({hint})" if hint else "")))
    if figures is not None:
        for col, l_value in figures.l.items():
            if l_value < figures.policy_min_l:
                findings.append(Finding(
                    dataset=name, column=col, kind="sensitive_below_l", severity="warn",
                    message=f"{col}: l={l_value} (policy {figures.policy_min_l}); {figures.classes_below_l[col]} classes "
                            "show one value to everyone who can place a person in them"))
    return findings


# -- DPIA screening --------------------------------------------------------------------------------------

# words in the purpose that point to criteria a table cannot show (English and Norwegian stems)
_WORDS = {
    "scoring": r"predict|prediction|scor|profil|risk model|forutsi|prediksjon",
    "automated": r"automated decision|automatic decision|automatisk avgjørelse|automatiserte? beslutning",
    "monitoring": r"monitor|surveil|track|overvåk|kontrolltiltak",
    "innovative": r"machine learning|artificial intelligence|\bai\b|deep learning|neural|maskinlæring|kunstig intelligens|algoritmetrening",
    "rights": r"deny|exclude from|refuse service|nekte",
    "location": r"location|gps|lokasjon|posisjon",
}


def _match(kind: str, text: str) -> str:
    m = re.search(_WORDS[kind], text, re.IGNORECASE)
    return m.group(0) if m else ""


def screen_dpia(
    content: ApplicationContent, catalogue: Mapping[str, DatasetMeta], figures: Mapping[str, RiskFigures | None],
    policy: DpiaPolicy,
) -> DpiaScreening:
    """Datatilsynet's list of processing that always needs a DPIA (art. 35(4)) and the EDPB's nine
    criteria (WP248 rev.01): two or more met, or one list item, and a DPIA is required."""
    text = " ".join([content.title, content.purpose])
    asked = {name: {c: a.transformation for c, a in ask.columns.items() if a.transformation.strip().lower() != "drop"}
             for name, ask in content.datasets.items() if name in catalogue}

    special = [f"{col} ({name}: {catalogue[name].column(col).meaning or 'special category'})"
               for name, cols in asked.items() for col in cols
               if catalogue[name].column(col) is not None and catalogue[name].column(col).role is ColumnRole.sensitive
               and catalogue[name].classification == "special-category"]
    people = [f.people if f.people is not None else f.records for f in figures.values() if f is not None]
    largest = max(people, default=0)
    subjects = sorted({catalogue[n].data_subjects for n in asked if catalogue[n].data_subjects})
    vulnerable = [s for s in subjects if s.lower() in {v.lower() for v in policy.vulnerable_subjects}]
    combined = sorted(asked) if len(asked) > 1 else []
    words = {kind: _match(kind, text) for kind in _WORDS}

    def said(kind: str) -> str:
        return f"the purpose says {words[kind]!r}" if words[kind] else ""

    edpb = [
        Criterion(id="EDPB-1", source="edpb", title="Evaluation or scoring, including profiling and predicting",
                  met=bool(words["scoring"]), evidence=said("scoring")),
        Criterion(id="EDPB-2", source="edpb", title="Automated decision-making with legal or similar significant effect",
                  met=bool(words["automated"]), evidence=said("automated")),
        Criterion(id="EDPB-3", source="edpb", title="Systematic monitoring", met=bool(words["monitoring"]),
                  evidence=said("monitoring")),
        Criterion(id="EDPB-4", source="edpb", title="Sensitive data or data of a highly personal nature (GDPR art. 9 and 10)",
                  met=bool(special), evidence="; ".join(special)),
        Criterion(id="EDPB-5", source="edpb", title="Data processed on a large scale",
                  met=largest >= policy.large_scale_people,
                  evidence=f"up to {largest:,} people in one extract (large scale from {policy.large_scale_people:,})"),
        Criterion(id="EDPB-6", source="edpb", title="Matching or combining datasets", met=bool(combined),
                  evidence=f"{' and '.join(combined)} linked through the project's pseudonyms" if combined else ""),
        Criterion(id="EDPB-7", source="edpb", title="Data concerning vulnerable data subjects (employees included: power imbalance)",
                  met=bool(vulnerable), evidence=", ".join(vulnerable)),
        Criterion(id="EDPB-8", source="edpb", title="Innovative use or new technological or organisational solutions",
                  met=bool(words["innovative"]), evidence=said("innovative")),
        Criterion(id="EDPB-9", source="edpb", title="Prevents data subjects from exercising a right or using a service or contract",
                  met=bool(words["rights"]), evidence=said("rights")),
    ]
    met_edpb = [c for c in edpb if c.met]
    employees = any(s.lower() == "employees" for s in subjects)
    datatilsynet = [
        Criterion(id="DT-employees", source="datatilsynet", title="Systematic monitoring of employees",
                  met=employees and bool(words["monitoring"]), evidence=said("monitoring") if employees else ""),
        Criterion(id="DT-innovative", source="datatilsynet",
                  title="Innovative technology (e.g. artificial intelligence) with at least one other criterion",
                  met=bool(words["innovative"]) and len(met_edpb) >= 2, evidence=said("innovative")),
        Criterion(id="DT-location", source="datatilsynet", title="Location data with at least one other criterion",
                  met=bool(words["location"]) and len(met_edpb) >= 1, evidence=said("location")),
        Criterion(id="DT-special-large-scale", source="datatilsynet",
                  title="Special categories of personal data about vulnerable data subjects on a large scale",
                  met=bool(special) and bool(vulnerable) and largest >= policy.large_scale_people,
                  evidence="; ".join(filter(None, [", ".join(special), ", ".join(vulnerable), f"{largest:,} people"]))
                  if special else ""),
    ]
    reasons = [f"{c.title} (Datatilsynet's list): {c.evidence}" for c in datatilsynet if c.met]
    if len(met_edpb) >= policy.criteria_for_dpia:
        reasons.append(f"{len(met_edpb)} EDPB criteria met (from {policy.criteria_for_dpia} a DPIA is required): "
                       + "; ".join(f"{c.title}: {c.evidence}" for c in met_edpb))
    if not reasons:
        reasons.append(f"{len(met_edpb)} EDPB criteria met (a DPIA from {policy.criteria_for_dpia}) and no item of "
                       "Datatilsynet's list" + (": " + "; ".join(c.title for c in met_edpb) if met_edpb else ""))
        required = False
    else:
        required = True
    return DpiaScreening(required=required, reasons=reasons, criteria=datatilsynet + edpb)


# -- the whole assessment ----------------------------------------------------------------------------------


def pre_assess(
    content: ApplicationContent,
    catalogue: Mapping[str, DatasetMeta],
    sources: Mapping[str, pd.DataFrame],
    *,
    policy: ProvisioningPolicy | None = None,
    assessment_policy: AssessmentPolicy | None = None,
    now: datetime | None = None,
) -> PreAssessment:
    """Assess ``content`` against the catalogue and the source frames (each holding at least the columns
    asked for). Nothing in the result is a value of a row."""
    policy = policy or provisioning_policy()
    assessment_policy = assessment_policy or load_assessment_policy()
    reference = content.start_date or (now or datetime.now(timezone.utc)).date()
    key = secrets.token_bytes(32)
    findings: list[Finding] = []
    results: list[DatasetAssessment] = []
    asked_figures: dict[str, RiskFigures | None] = {}
    for name, ask in content.datasets.items():
        meta = catalogue.get(name)
        asked = {c: a.transformation for c, a in ask.columns.items()}
        if meta is None:
            findings.append(Finding(dataset=name, kind="unknown_dataset", severity="block", message=f"no dataset named {name!r}"))
            continue
        valid = {}
        for col, how in asked.items():
            try:
                how = transformations.normalise(how)
            except ProvisioningError:
                continue
            if meta.column(col) is not None:
                valid[col] = how
        source = sources[name]
        figures = suggested_figures = None
        effects: list[QuasiIdentifierEffect] = []
        suggested: dict[str, str] = {}
        try:
            frame, described = extract_as_asked(source, meta, valid, reference=reference, policy=policy, key=key)
            figures = risk_figures(frame, described, policy)
            for qi in figures.quasi_identifiers:
                without = [d for d in described if d["name"] != qi]
                effects.append(QuasiIdentifierEffect(
                    column=next(d["source"] for d in described if d["name"] == qi),
                    k_without=risk_figures(frame[[d["name"] for d in without]], without, policy).k))
            justified = {c: bool(a.justification.strip()) for c, a in ask.columns.items()}
            suggested = suggest(source, meta, valid, reference=reference, policy=policy, justified=justified,
                                max_steps=assessment_policy.minimisation.max_suggestion_steps, key=key)
            frame, described = extract_as_asked(source, meta, suggested, reference=reference, policy=policy, key=key)
            suggested_figures = risk_figures(frame, described, policy)
        except (ProvisioningError, ValueError, TypeError) as exc:
            # e.g. a generalisation that does not fit the column: said once, without the data's values
            findings.append(Finding(dataset=name, kind="bad_transformation", severity="block",
                                    message=f"the extract cannot be built as asked: {type(exc).__name__}"))
        asked_figures[name] = figures
        findings += _minimisation_findings(content, name, meta, figures, effects)
        results.append(DatasetAssessment(dataset=name, asked=asked, suggested=suggested, as_asked=figures,
                                         as_suggested=suggested_figures, quasi_identifier_effects=effects))

    screening = screen_dpia(content, catalogue, asked_figures, assessment_policy.dpia)
    special_asked = any(c.id == "EDPB-4" and c.met for c in screening.criteria)
    if special_asked and content.legal_basis_art9 is None:
        findings.append(Finding(dataset=", ".join(sorted(content.datasets)), kind="special_category_without_art9",
                                severity="block", message="special-category data are asked for without a GDPR art. 9(2) basis"))
    return PreAssessment(title=content.title, computed_at=now or datetime.now(timezone.utc), dpia=screening,
                         findings=findings, datasets=results)


def read_sources(content: ApplicationContent, catalogue: Mapping[str, DatasetMeta]) -> dict[str, pd.DataFrame]:
    """The source columns an application asks for (read inside the TRE; never shown)."""
    out = {}
    for name, ask in content.datasets.items():
        meta = catalogue.get(name)
        if meta is None:
            continue
        wanted = [c for c in ask.columns if meta.column(c) is not None]
        out[name] = read_source(meta.source, wanted)
    return out


def pre_assess_from_catalogue(session: Session, content: ApplicationContent, **kwargs) -> PreAssessment:  # noqa: ANN003
    """:func:`pre_assess` on the registered catalogue and its source files."""
    from provisioning.catalogue_meta import load_catalogue

    catalogue = {m.name: m for m in load_catalogue(session)}
    return pre_assess(content, catalogue, read_sources(content, catalogue), **kwargs)
