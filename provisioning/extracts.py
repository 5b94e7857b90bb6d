"""Build a project's extracts: only the granted columns of the rows its filter selects, each column
transformed as the entitlement says (kept, pseudonymised under the project's key, generalised), written
as Parquet and CSV into the project's data folder (files read-only), with a risk report beside it."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from provisioning import audit, rowfilter, transformations
from provisioning.errors import ProvisioningError
from provisioning.keys import project_key
from provisioning.lifecycle import project_dir
from provisioning.models import ColumnRole, Entitlement, Extract, Project, ProjectStatus
from provisioning.policy import ProvisioningPolicy, current
from provisioning.pseudonymise import pseudonymise_series, pseudonymise_to_series
from provisioning.risk import risk_report, write_report
from sandkasse.audit import utcnow


def read_source(source: str | Path, columns: list[str]) -> pd.DataFrame:
    path = Path(source)
    if not path.is_file():
        raise ProvisioningError(f"dataset source {path} does not exist")
    if path.suffix == ".parquet":
        return pd.read_parquet(path, columns=columns)
    return pd.read_csv(path, usecols=columns)


def _age_band(values: pd.Series, width: int, reference: date) -> pd.Series:
    """Age at ``reference`` (from a birth date, or an age as is) as a band such as "40-49"."""
    if pd.api.types.is_numeric_dtype(values):
        age = values.to_numpy(dtype=float, na_value=np.nan)
    else:
        born = pd.to_datetime(values)
        ref = pd.Timestamp(reference)
        before_birthday = (born.dt.month > ref.month) | ((born.dt.month == ref.month) & (born.dt.day > ref.day))
        age = (ref.year - born.dt.year - before_birthday.astype(int)).to_numpy(dtype=float, na_value=np.nan)
    low = np.floor(age / width) * width
    valid = ~np.isnan(low)
    bands = np.unique(low[valid]).astype(int)
    codes = np.full(low.size, -1, dtype=np.int64)  # -1: missing stays missing
    codes[valid] = np.searchsorted(bands, low[valid].astype(int))
    categories = [f"{b}-{b + width - 1}" for b in bands]
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories), index=values.index)


def transform(df: pd.Series, how: str, key: bytes | None, policy: ProvisioningPolicy, reference: date) -> pd.Series:
    if how == transformations.KEEP:
        return df
    if how == transformations.PSEUDONYMISE:
        assert key is not None
        return pseudonymise_series(df, key, policy.pseudonymisation.hex_chars)
    if how in ("generalise:age5", "generalise:age10"):
        return _age_band(df, 5 if how.endswith("5") else 10, reference)
    if how == "generalise:month":
        return pd.to_datetime(df).dt.strftime("%Y-%m").astype("category")
    if how == "generalise:year":
        return pd.to_datetime(df).dt.year.astype("Int64")
    raise ProvisioningError(f"unknown transformation {how!r}")


def minimised_frame(
    entitlement: Entitlement, key: bytes | None, policy: ProvisioningPolicy, reference: date
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """The extract as a DataFrame and its column descriptions (name, role, transformation)."""
    ds = entitlement.dataset
    granted = [c for c in entitlement.columns if c.transformation != transformations.DROP]
    filter_columns = sorted(rowfilter.validate(entitlement.row_filter, [c.name for c in ds.columns])) if entitlement.row_filter else []
    # Columns only pseudonymised are read as Arrow strings straight from Parquet: converting ten million
    # identifiers to Python objects and back would cost more than hashing them.
    arrow_only = {c.column_name for c in granted if c.transformation == transformations.PSEUDONYMISE} - set(filter_columns)
    if not str(ds.source).endswith(".parquet"):
        arrow_only = set()
    needed = list(dict.fromkeys([c.column_name for c in granted if c.column_name not in arrow_only] + filter_columns))
    df = read_source(ds.source, needed) if needed else pd.DataFrame(index=pd.RangeIndex(pq.ParquetFile(ds.source).metadata.num_rows))
    mask = rowfilter.mask(entitlement.row_filter, df)
    if mask is not None:
        df = df.loc[mask]
    identifiers = pq.read_table(ds.source, columns=sorted(arrow_only)) if arrow_only else None
    out = {}
    described = []
    for c in granted:
        name = transformations.output_name(c.column_name, c.transformation)
        if c.column_name in arrow_only:
            assert identifiers is not None and key is not None
            column = identifiers.column(c.column_name)
            if mask is not None:
                column = pc.filter(column, pa.array(mask))
            out[name] = pseudonymise_to_series(column, key, policy.pseudonymisation.hex_chars)
        else:
            out[name] = transform(df[c.column_name], c.transformation, key, policy, reference).reset_index(drop=True)
        role = ds.column(c.column_name).role if ds.column(c.column_name) else ColumnRole.other
        described.append({"name": name, "source": c.column_name, "role": role.value, "transformation": c.transformation})
    return pd.DataFrame(out), described


def extract_risk(frame: pd.DataFrame, described: list[dict[str, str]], policy: ProvisioningPolicy) -> dict:
    """The risk report of an extract from its column descriptions (also used to assess an application
    before any extract exists, so both give the same figures for the same grants)."""
    qis = [d["name"] for d in described if d["role"] == ColumnRole.quasi_identifier.value]
    sensitive = [d["name"] for d in described if d["role"] == ColumnRole.sensitive.value]
    person = next((d["name"] for d in described if d["transformation"] == transformations.PSEUDONYMISE and d["role"] == ColumnRole.direct_identifier.value), None)
    return risk_report(frame, qis, sensitive, min_k=policy.risk.min_k, min_l=policy.risk.min_l,
                       top=policy.risk.highest_risk_records, person_column=person)


def _write_read_only(frame: pd.DataFrame, folder: Path, name: str, fmt: str, mode: int) -> Path:
    target = folder / f"{name}.{fmt}"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=f".{fmt}")
    os.close(fd)
    try:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.chmod(tmp, mode)
        os.replace(tmp, target)  # atomic: a running notebook sees the old or the new file, never half of one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_extract(
    session: Session,
    project: Project,
    entitlement: Entitlement,
    *,
    master_key: bytes | None = None,
    var_dir: Path | None = None,
    policy: ProvisioningPolicy | None = None,
    actor: str = "system",
) -> Extract:
    policy = policy or current()
    if project.status is ProjectStatus.closed:
        raise ProvisioningError(f"project {project.slug!r} is closed; no extracts can be built")
    needs_key = any(c.transformation == transformations.PSEUDONYMISE for c in entitlement.columns)
    key = project_key(session, project, master_key) if needs_key else None
    frame, described = minimised_frame(entitlement, key, policy, project.start_date)

    folder = project_dir(project.slug, var_dir)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o755)
    name = entitlement.dataset.name
    files = [_write_read_only(frame, data, name, fmt, policy.extracts.mode) for fmt in policy.extracts.formats]

    report = extract_risk(frame, described, policy)
    report["summary"].update(project=project.slug, dataset=name, built_at=utcnow().isoformat())
    write_report(report, folder / "reports", name, f"{project.slug} / {name}")

    extract = next((e for e in project.extracts if e.dataset_id == entitlement.dataset_id), None)
    if extract is None:
        extract = Extract(dataset=entitlement.dataset)
        project.extracts.append(extract)
    extract.built_at = utcnow()
    extract.rows = len(frame)
    extract.files = json.dumps([p.name for p in files])
    extract.columns = json.dumps(described)
    extract.sha256 = json.dumps({p.name: _sha256(p) for p in files})
    extract.min_k = report["summary"]["k"]
    extract.risk_ok = bool(report["summary"]["meets_k"])
    extract.risk_report = json.dumps({"summary": report["summary"], "l_diversity": report["l_diversity"]}, default=str)
    session.flush()
    audit.record(
        session, actor=actor, action="extract.build", object_type="project", object_id=project.slug,
        dataset=name, rows=len(frame), columns=[d["name"] for d in described], k=extract.min_k,
        meets_k=extract.risk_ok, sha256=json.loads(extract.sha256),
    )
    return extract


def build_project_extracts(
    session: Session,
    project: Project,
    *,
    master_key: bytes | None = None,
    var_dir: Path | None = None,
    policy: ProvisioningPolicy | None = None,
    actor: str = "system",
    progress=None,  # noqa: ANN001 - callable(description) for a progress display
) -> list[Extract]:
    """Build every entitled dataset's extract; remove extracts of datasets no longer granted."""
    built = []
    for ent in project.entitlements:
        if progress is not None:
            progress(f"{project.slug}: {ent.dataset.name}")
        built.append(build_extract(session, project, ent, master_key=master_key, var_dir=var_dir, policy=policy, actor=actor))
    granted = {e.dataset_id for e in project.entitlements}
    data = project_dir(project.slug, var_dir) / "data"
    for stale in [e for e in project.extracts if e.dataset_id not in granted]:
        for fname in json.loads(stale.files):
            (data / fname).unlink(missing_ok=True)
        project.extracts.remove(stale)
    session.flush()
    return built
