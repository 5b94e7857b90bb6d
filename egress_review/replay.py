"""Make a submitted table again from the project's extract, as its sidecar says it was made.

Runs in a check worker (:mod:`egress_review.autocheck`), never in the service process: it reads the
extract with pandas. The sidecar's replay specification (``egress_review.sdc.provenance``) names the
extract file and its SHA-256, the filters, the wrapper call and its arguments; the worker runs that call
on the extract with the wrappers themselves, exports the result as the researcher's export did, and
compares it with the submitted file (:mod:`egress_review.checks.replay`). When they agree, the checks
use the sidecar the *replay* wrote: the counts and contributions then come from the data, not from the
researcher. When they do not, the file fails ("does not match the data").
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from egress_review.checks.replay import MISMATCH, NOT_REPLAYABLE, REPRODUCED, ReplayNote, table_differences
from egress_review.checks.sidecar import Sidecar, file_sha256, read_sidecar, sidecar_path

log = logging.getLogger(__name__)

_SUFFIX = {"csv": ".csv", "tsv": ".tsv", "xlsx": ".xlsx", "parquet": ".parquet"}


@dataclass
class Replayed:
    note: ReplayNote
    sidecar: Path | None = None  # the replay's own sidecar for the submitted file (the caller removes it)


def _not(detail: str) -> Replayed:
    return Replayed(ReplayNote(status=NOT_REPLAYABLE, detail=detail))


def _mismatch(detail: str) -> Replayed:
    return Replayed(ReplayNote(status=MISMATCH, detail=detail))


def _run_call(sc: Sidecar, frame, policy):  # noqa: ANN001, ANN202 - pandas is imported lazily
    from egress_review.sdc import crosstab, describe_by, pivot_table

    spec = sc.replay
    args = dict(spec.args)
    entity = frame[spec.entity] if spec.entity else None
    if spec.call == "crosstab":
        index = [frame[c] for c in args.pop("index")]
        columns = [frame[c] for c in args.pop("columns")]
        values = args.pop("values", None)
        return crosstab(index, columns, values=None if values is None else frame[values], entity=entity,
                        policy=policy, **args)
    if spec.call == "pivot_table":
        return pivot_table(frame, entity=entity, policy=policy, **args)
    return describe_by(frame, entity=spec.entity, policy=policy, **args)


def replay_table(table: Path, sidecar: Path, extract_dir: Path | None, scratch: Path) -> Replayed:
    """Replay the table ``table`` described by ``sidecar`` from the extracts in ``extract_dir``."""
    from egress_review.checks.policy import DisclosurePolicy, load_disclosure_policy
    from egress_review.checks.tables import read_table_files
    from egress_review.sdc.provenance import apply_filters, load_extract

    try:
        sc = read_sidecar(sidecar)
    except (ValueError, OSError):
        return _not("its sidecar could not be read")
    if sc.kind != "table":
        return _not("regressions are not replayed")
    spec = sc.replay
    if spec is None:
        return _not(sc.replay_problem or "its sidecar has no replay specification (made before replays existed, "
                    "or not with the sdc table wrappers)")
    if extract_dir is None or not extract_dir.is_dir():
        return _not("the project's extracts are not available to the check worker")
    name = spec.source
    if not name or Path(name).name != name or name.startswith("."):
        return _not(f"its sidecar names no extract file ({name!r})")
    source = extract_dir / name
    if not source.is_file():
        return _not(f"the project has no extract named {name!r}")
    if file_sha256(source) != spec.source_sha256:
        return _not(f"the extract {name} has been rebuilt since the table was made (its SHA-256 differs)")
    try:
        policy = DisclosurePolicy.model_validate(sc.policy)
    except ValueError:
        policy = load_disclosure_policy()
    try:
        frame = apply_filters(load_extract(source), [f.model_dump() for f in spec.filters])
        result = _run_call(sc, frame, policy)
    except Exception as exc:  # noqa: BLE001 - a recorded call the data cannot answer is a false record
        return _mismatch(f"the recorded call fails on the data ({exc.__class__.__name__}: {str(exc)[:200]})")
    fmt = sc.file_format if sc.file_format in _SUFFIX else "csv"
    made = scratch / f"replay-{uuid.uuid4().hex}{_SUFFIX[fmt]}"
    made_sidecar = sidecar_path(made)
    try:
        result.export(made, protected=spec.protected)
        bit_for_bit = file_sha256(made) == file_sha256(table)
        if not bit_for_bit:
            submitted = read_table_files(table, fmt, sc.index_levels)
            replayed = read_table_files(made, fmt, sc.index_levels)
            if len(submitted) != len(replayed):
                return _mismatch("the file has another number of sheets than the data gives")
            for a, b in zip(submitted, replayed):
                diffs = table_differences(a.cells, b.cells)
                if diffs:
                    return _mismatch("; ".join(diffs))
        # the replay's statistics, bound to the submitted file (which it reproduced)
        data = json.loads(made_sidecar.read_text(encoding="utf-8"))
        data.update(sha256=file_sha256(table), table_file=sc.table_file, created_at=sc.created_at)
        out = scratch / f"replay-{uuid.uuid4().hex}.sidecar.json"
        out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return Replayed(ReplayNote(status=REPRODUCED, bit_for_bit=bit_for_bit,
                                   detail=f"{spec.call} on {name}" + (f" with {len(spec.filters)} filter(s)"
                                                                       if spec.filters else "")), out)
    finally:
        made.unlink(missing_ok=True)
        made_sidecar.unlink(missing_ok=True)
