"""A synthetic twin of the extract an application asks for: the same columns, types, category sets and
transformations as the real extract would have, with values that reveal nothing about a real person,
so the applicant can develop the analysis before approval and run the same code on the real extract
after it.

How it is made: a synthetic *source* frame with the source file's own Arrow types is drawn column by
column, independently, from the file's code lists and the catalogue's declared value domains and period, or,
where ``policies/catalogue.yaml`` allows it for the dataset (``twin.marginals: noisy``), from each
column's marginal counts with Laplace noise (each person's rows bounded, the budget split over the
columns). No joint distribution and no row is ever read into the twin, so a twin row matches a real
row on its quasi-identifiers only as often as independent draws do (:func:`match_rate` measures it).
Then the extract builder's own :func:`~provisioning.extracts.transform` makes it an extract.

Direct identifiers never come from the data: they are synthetic tokens (``SYN...``). The twin is
labelled synthetic in the Parquet metadata (``sandkasse.synthetic``), in ``DataFrame.attrs`` and by a
``SYNTHETIC-TWIN.md`` beside the files; the files keep the real extract's names so the same code runs
on both."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from provisioning import transformations
from provisioning.applications.content import ApplicationContent
from provisioning.catalogue_meta import DatasetMeta
from provisioning.errors import ProvisioningError
from provisioning.extracts import transform
from provisioning.models import ColumnRole
from provisioning.policy import ProvisioningPolicy
from provisioning.policy import current as provisioning_policy

SYNTHETIC_KEY = b"sandkasse.synthetic"
MAX_ROWS = 50_000
LABEL = "SYNTHETIC-TWIN.md"
_FLOOR = 0.5  # added to every noisy count so each declared value stays possible (the category set is kept)
_BINS = 20


def code_list(source: str, column: str) -> list[str]:
    """The dictionary of a categorical Parquet column, so the twin's categories are the real extract's.
    Read here only: the twin is the applicant's own, the public catalogue never shows it."""
    chunks = pq.read_table(source, columns=[column]).column(column).chunks
    seen: dict[str, None] = {}
    for chunk in chunks:
        for value in chunk.dictionary.to_pylist():
            seen.setdefault(str(value), None)
    return list(seen)


def _person_column(meta: DatasetMeta) -> str | None:
    ids = [c for c in meta.columns if c.role is ColumnRole.direct_identifier]
    ranked = sorted(ids, key=lambda c: ("identif" not in c.meaning.lower() and not c.name.endswith("id"), c.name))
    return ranked[0].name if ranked else None


def _bounded(source: pd.DataFrame, person: str | None, max_rows: int) -> pd.DataFrame:
    """At most ``max_rows`` rows of each person, so one person moves a marginal count by at most that."""
    if person is None or person not in source.columns:
        return source
    return source[source.groupby(person, sort=False, observed=True).cumcount() < max_rows]


def twin_noise_key(master: bytes | None = None) -> bytes:
    """The key the marginals' noise is drawn under, derived from the TRE master key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from sandkasse.keys import load_master_key

    master = master if master is not None else load_master_key()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sandkasse twin marginal noise v1").derive(master)


def _noisy_weights(counts: np.ndarray, scale: float, noise: tuple[bytes, str]) -> np.ndarray:
    # numpy's Laplace: the twin never leaves the applicant's sandbox, and the noise only hides each
    # person's weight in a marginal, on top of the independence of the columns. The noise is drawn from
    # an HMAC of (dataset, column, true counts) under the TRE's key, so every twin of the same data gets the
    # same noisy marginal: twins made again and again (one per application draft) cannot be averaged
    # back to the true counts, as fresh noise each time would allow.
    key, where = noise
    msg = where.encode() + b"\x1f" + np.asarray(counts, dtype=np.float64).tobytes()
    seed = int.from_bytes(hmac.new(key, msg, hashlib.sha256).digest()[:16], "big")
    noisy = np.clip(counts + np.random.default_rng(seed).laplace(0.0, scale, counts.size), 0, None) + _FLOOR
    return noisy / noisy.sum()


def _dates(lo: date, hi: date) -> tuple[np.datetime64, int]:
    start = np.datetime64(lo, "D")
    return start, int((np.datetime64(hi, "D") - start).astype(int)) + 1


def _draw_column(
    name: str, field: pa.Field, meta: DatasetMeta, n: int, rng: np.random.Generator,
    counted: pd.Series | None, scale: float, people: int, noise_key: bytes = b"",
) -> pa.Array:
    """``n`` values of one source column with the source's Arrow type."""
    column = meta.column(name)
    role = column.role if column is not None else ColumnRole.other
    domain = column.domain if column is not None else None
    kind = field.type
    if role is ColumnRole.direct_identifier:
        # tokens of a synthetic person pool: several rows per person where the data has them
        person = rng.integers(0, max(people, 1), n)
        tokens = np.char.add(f"SYN{name[:3].upper()}", np.char.zfill(person.astype(str), 8))
        if pa.types.is_dictionary(kind):
            return pa.array(tokens).dictionary_encode().cast(kind)
        return pa.array(tokens, type=kind)
    if pa.types.is_dictionary(kind):
        # the file's code list, so the same code runs on the twin and on the real extract
        categories = code_list(meta.source, name) or ["synthetic"]
        p = np.full(len(categories), 1 / len(categories))
        if counted is not None:
            counts = counted.astype("string").value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
            p = _noisy_weights(counts, scale, (noise_key, f"{meta.name}\x1f{name}"))
        codes = rng.choice(len(categories), n, p=p)
        return pa.DictionaryArray.from_arrays(pa.array(codes, type=kind.index_type), pa.array(categories, type=kind.value_type))
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        lo = (domain.min if domain and isinstance(domain.min, date) else None) or (meta.period.start if meta.period else date(2000, 1, 1))
        hi = (domain.max if domain and isinstance(domain.max, date) else None) or (meta.period.end if meta.period else lo)
        start, days = _dates(lo, hi)
        offsets = rng.integers(0, days, n)
        if counted is not None:
            bins = np.linspace(0, days, _BINS + 1)
            seen = (pd.to_datetime(counted).to_numpy().astype("datetime64[D]") - start).astype(int)
            counts, _ = np.histogram(seen, bins=bins)
            which = rng.choice(_BINS, n, p=_noisy_weights(counts.astype(float), scale, (noise_key, f"{meta.name}\x1f{name}")))
            offsets = np.minimum((bins[which] + rng.random(n) * (bins[which + 1] - bins[which])).astype(int), days - 1)
        # the first rows walk the whole declared period, so every month and age band of it appears
        walk = min(n // 2, max(days // 28, 1))
        offsets[:walk] = np.linspace(0, days - 1, walk).astype(int)
        values = start + offsets.astype("timedelta64[D]")
        return pa.array(values).cast(kind)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        if domain is not None and domain.values:
            values = np.array(domain.values, dtype=float)
            p = np.full(values.size, 1 / values.size)
            if counted is not None:
                counts = pd.Series(counted.to_numpy(dtype=float)).value_counts().reindex(values, fill_value=0).to_numpy(dtype=float)
                p = _noisy_weights(counts, scale, (noise_key, f"{meta.name}\x1f{name}"))
            drawn = values[rng.choice(values.size, n, p=p)]
        else:
            lo = float(domain.min) if domain is not None and domain.min is not None else 0.0
            hi = float(domain.max) if domain is not None and domain.max is not None else 100.0
            if counted is not None:
                bins = np.linspace(lo, hi, _BINS + 1)
                counts, _ = np.histogram(np.clip(counted.to_numpy(dtype=float), lo, hi), bins=bins)
                which = rng.choice(_BINS, n, p=_noisy_weights(counts.astype(float), scale, (noise_key, f"{meta.name}\x1f{name}")))
                drawn = bins[which] + rng.random(n) * (bins[which + 1] - bins[which])
            else:
                drawn = rng.uniform(lo, hi, n)
            if pa.types.is_integer(kind):
                drawn = np.clip(np.round(drawn), lo, hi)
        return pa.array(drawn.astype(np.int64) if pa.types.is_integer(kind) else drawn).cast(kind)
    # free text with no declared domain: a synthetic token
    return pa.array([f"synthetic {name} {i}" for i in rng.integers(0, max(people, 1), n)], type=pa.string())


def twin_source(
    meta: DatasetMeta, columns: list[str], *, rows: int, schema: pa.Schema, source: pd.DataFrame | None = None,
    seed: int | None = None, noise_key: bytes | None = None,
) -> pd.DataFrame:
    """A synthetic frame of the source's ``columns`` with the source's types (as ``pd.read_parquet``
    gives them). ``source`` (the real columns, read inside the TRE) is used only for noisy marginals and
    only when the dataset's policy allows them."""
    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
    noisy = meta.twin.marginals == "noisy" and source is not None
    person = _person_column(meta)
    counted_frame = _bounded(source, person, meta.twin.max_rows_per_person) if noisy else None
    noisy_columns = [c for c in columns if meta.column(c) is not None
                     and meta.column(c).role is not ColumnRole.direct_identifier] if noisy else []
    # Laplace scale: one person moves each histogram by at most max_rows_per_person; epsilon is split over
    # every column the dataset could give (not the ones asked for): a scale that followed the columns asked
    # would put the same noise at two scales, and two twins would solve for the true counts
    eligible = [c for c in meta.columns if c.role is not ColumnRole.direct_identifier]
    scale = meta.twin.max_rows_per_person * max(len(eligible), len(noisy_columns), 1) / meta.twin.epsilon
    if noisy and noise_key is None:
        # a seeded run (tests) is reproducible throughout; otherwise the TRE's key
        noise_key = hashlib.sha256(f"twin noise {seed}".encode()).digest() if seed is not None else twin_noise_key()
    people = rows if meta.twin.max_rows_per_person == 1 else max(rows // 3, 1)
    arrays = {}
    for name in columns:
        counted = counted_frame[name] if counted_frame is not None and name in noisy_columns else None
        arrays[name] = _draw_column(name, schema.field(name), meta, rows, rng, counted, scale, people, noise_key or b"")
    table = pa.table(arrays, schema=pa.schema([schema.field(c) for c in columns]))
    return table.to_pandas()


def make_twin(
    meta: DatasetMeta, grant: Mapping[str, str], *, reference: date, policy: ProvisioningPolicy | None = None,
    rows: int | None = None, source: pd.DataFrame | None = None, seed: int | None = None, key: bytes | None = None,
    noise_key: bytes | None = None,
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """The twin of the extract ``grant`` (column -> transformation) would give, and its column
    descriptions (name, source, role, transformation), as the extract builder describes the real one.
    Twins made under one ``key`` link as a project's extracts do: the same synthetic person token gets
    the same pseudonym in each."""
    policy = policy or provisioning_policy()
    if not str(meta.source).endswith(".parquet"):
        # the twin copies the source's Arrow types, which only a Parquet source declares
        raise ProvisioningError(f"dataset {meta.name!r}: a synthetic twin needs a Parquet source")
    schema = pq.read_schema(meta.source)
    asked = {c: transformations.normalise(t) for c, t in grant.items()}
    kept = [c for c, t in asked.items() if t != transformations.DROP]
    n = min(rows or meta.rows or 1000, MAX_ROWS)
    synthetic = twin_source(meta, kept, rows=n, schema=schema, source=source, seed=seed, noise_key=noise_key)
    key = key or secrets.token_bytes(32)  # pseudonyms of synthetic tokens, never the project's key
    out, described = {}, []
    for name in kept:
        how = asked[name]
        column = meta.column(name)
        out_name = transformations.output_name(name, how)
        out[out_name] = transform(synthetic[name], how, key, policy, reference).reset_index(drop=True)
        described.append({"name": out_name, "source": name, "role": (column.role if column else ColumnRole.other).value,
                          "transformation": how})
    frame = pd.DataFrame(out)
    frame.attrs["synthetic"] = True
    return frame, described


def write_twin(frame: pd.DataFrame, folder: Path, name: str, *, application: str = "",
               formats: tuple[str, ...] = ("parquet", "csv")) -> list[Path]:
    """Write the twin under the real extract's file names, labelled synthetic in the Parquet metadata
    and by a ``SYNTHETIC-TWIN.md`` in the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    label = {"synthetic": True, "dataset": name, "application": application,
             "made_at": datetime.now(timezone.utc).isoformat(),
             "note": "synthetic twin: no value describes a real person; results mean nothing"}
    written = []
    if "parquet" in formats:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), SYNTHETIC_KEY: json.dumps(label).encode()})
        pq.write_table(table, folder / f"{name}.parquet")
        written.append(folder / f"{name}.parquet")
    if "csv" in formats:
        frame.to_csv(folder / f"{name}.csv", index=False)
        written.append(folder / f"{name}.csv")
    (folder / LABEL).write_text(
        "# Synthetic twin: not real data\n\nEvery value in this folder was drawn at random from the catalogue's "
        "metadata (and, where the dataset's policy allows, noisy per-column counts). Columns, types, categories "
        "and transformations are those of the extract the application asks for, so code written here runs "
        "unchanged on the approved extract. Results computed here mean nothing.\n", encoding="utf-8")
    return written


def is_synthetic(path: Path) -> bool:
    meta = pq.read_schema(path).metadata or {}
    return SYNTHETIC_KEY in meta


def match_rate(twin: pd.DataFrame, real: pd.DataFrame, columns: list[str]) -> float:
    """Share of ``twin`` rows whose values on ``columns`` equal those of some row of ``real``."""
    if not len(twin):
        return 0.0

    def keys(df: pd.DataFrame) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(df[columns].astype("string").fillna("∅"))

    return float(keys(twin).isin(keys(real).unique()).mean())


def independent_draws(real: pd.DataFrame, columns: list[str], rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` rows whose columns are drawn independently from ``real``'s own marginals: the match rate
    of a generator that knows each column exactly but no row (the chance level)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: real[c].to_numpy()[rng.integers(0, len(real), rows)] for c in columns})


def write_application_twins(
    content: ApplicationContent, catalogue: Mapping[str, DatasetMeta], folder: Path, *, application: str = "",
    policy: ProvisioningPolicy | None = None, seed: int | None = None, noise_key: bytes | None = None,
) -> dict[str, list[Path]]:
    """The twin of every dataset an application asks for, written into ``folder`` under the real
    extracts' names (``<dataset>.parquet``/``.csv``). The source is read (inside the TRE) only for the
    datasets whose policy allows noisy marginals."""
    from provisioning.extracts import read_source

    policy = policy or provisioning_policy()
    reference = content.start_date or date.today()
    key = secrets.token_bytes(32)  # one key for the application's twins, so they link like the extracts
    out = {}
    for name, ask in content.datasets.items():
        meta = catalogue[name]
        grant = {c: a.transformation for c, a in ask.columns.items() if meta.column(c) is not None}
        kept = [c for c, t in grant.items() if transformations.normalise(t) != transformations.DROP]
        source = read_source(meta.source, kept) if meta.twin.marginals == "noisy" and kept else None
        frame, _ = make_twin(meta, grant, reference=reference, policy=policy, source=source, seed=seed, key=key,
                              noise_key=noise_key)
        out[name] = write_twin(frame, folder, name, application=application, formats=tuple(policy.extracts.formats))
    return out
