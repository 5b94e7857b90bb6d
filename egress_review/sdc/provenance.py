"""Where a table's data came from, so that the server can make the table again (``egress_review.replay``).

    df = sdc.read_extract("/data/sykefravaer.parquet")     # remembers the file and its SHA-256
    oslo = sdc.where(df, kommune="Oslo", aar=[2023, 2024])  # remembers the filter
    r = sdc.crosstab(oslo.bydel, oslo.aldersgruppe, entity=oslo.person)   # r.replay: the specification

A frame from these helpers carries a token in ``attrs``; the frame itself is held in a weak registry.
A wrapper call is described only when every column it uses *is* a column of such a frame (compared
value by value): a derived column, or a subset made with plain pandas, makes the table "not
replayable" (``r.replay_problem`` says why), never a false claim about its data.
"""

from __future__ import annotations

import itertools
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from egress_review.checks.sidecar import file_sha256

ATTR = "sandkasse_extract"
_frames: weakref.WeakValueDictionary[int, pd.DataFrame] = weakref.WeakValueDictionary()
_origin: dict[int, dict] = {}
_tokens = itertools.count(1)

OPS = ("==", "!=", "in", "not in", "<", "<=", ">", ">=")


def load_extract(path: Path) -> pd.DataFrame:
    """The extract as a DataFrame, read the same way in the notebook and in the replay."""
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path)


def _register(df: pd.DataFrame, source: str, sha256: str, filters: list[dict]) -> pd.DataFrame:
    token = next(_tokens)
    _frames[token] = df
    _origin[token] = {"source": source, "source_sha256": sha256, "filters": filters}
    weakref.finalize(df, _origin.pop, token, None)
    df.attrs[ATTR] = token
    return df


def read_extract(path: str | Path) -> pd.DataFrame:
    """Read a project extract (Parquet or CSV) and remember which file, at which SHA-256, it was."""
    path = Path(path)
    return _register(load_extract(path), path.name, file_sha256(path), [])


def _json_scalar(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    raise TypeError(f"filter values must be strings, numbers or booleans, not {type(v).__name__}")


def filter_mask(df: pd.DataFrame, filters: list[dict]) -> np.ndarray:
    """Rows kept by ``filters`` (each ``{"column", "op", "value"}``), all of them applied."""
    keep = np.ones(len(df), dtype=bool)
    for f in filters:
        col, op, value = df[f["column"]], f.get("op", "=="), f.get("value")
        if op in ("in", "not in"):
            m = col.isin(list(value)).to_numpy(dtype=bool)
            m = ~m if op == "not in" else m
        elif value is None:
            m = (col.isna() if op == "==" else col.notna()).to_numpy(dtype=bool)
        else:
            m = {"==": col == value, "!=": col != value, "<": col < value, "<=": col <= value, ">": col > value,
                 ">=": col >= value}[op].fillna(False).to_numpy(dtype=bool)
        keep &= m
    return keep


def apply_filters(df: pd.DataFrame, filters: list[dict]) -> pd.DataFrame:
    if not filters:
        return df
    return df.loc[filter_mask(df, filters)].reset_index(drop=True)


def where(df: pd.DataFrame, *conditions: tuple[str, str, Any], **equals: Any) -> pd.DataFrame:
    """The rows of ``df`` that meet every condition, with the filter remembered for the replay.

    ``where(df, kommune="Oslo")`` keeps one value, ``aar=[2023, 2024]`` any of several, and
    ``("dager", ">=", 14)`` compares (``==``, ``!=``, ``in``, ``not in``, ``<``, ``<=``, ``>``, ``>=``).
    """
    filters = []
    for cond in conditions:
        column, op, value = cond
        if op not in OPS:
            raise ValueError(f"unknown comparison {op!r}; use one of {', '.join(OPS)}")
        filters.append({"column": column, "op": op, "value": value})
    for column, value in equals.items():
        many = isinstance(value, (list, tuple, set, frozenset, pd.Index, np.ndarray))
        filters.append({"column": column, "op": "in" if many else "==", "value": value})
    for f in filters:
        if f["column"] not in df.columns:
            raise KeyError(f"no column {f['column']!r}")
        v = f["value"]
        f["value"] = [_json_scalar(x) for x in v] if f["op"] in ("in", "not in") else _json_scalar(v)
    out = apply_filters(df, filters).copy() if filters else df.copy()
    origin = _origin_of(df)
    if origin is None:
        out.attrs.pop(ATTR, None)
        return out
    return _register(out, origin["source"], origin["source_sha256"], origin["filters"] + filters)


def _origin_of(obj: Any) -> dict | None:
    token = getattr(obj, "attrs", {}).get(ATTR) if hasattr(obj, "attrs") else None
    if token is None or token not in _origin or _frames.get(token) is None:
        return None
    return {**_origin[token], "token": token}


class NotReplayable(Exception):
    pass


class _Tracker:
    """Checks that every input of one call comes unchanged from one registered frame."""

    def __init__(self) -> None:
        self.origin: dict | None = None

    def _frame_of(self, obj: Any) -> pd.DataFrame:
        origin = _origin_of(obj)
        if origin is None:
            raise NotReplayable("its data was not read with sdc.read_extract (and filtered with sdc.where)")
        if self.origin is None:
            self.origin = origin
        elif origin["token"] != self.origin["token"]:
            raise NotReplayable("its columns come from different frames")
        return _frames[origin["token"]]

    def series(self, s: Any) -> str:
        if not isinstance(s, pd.Series):
            raise NotReplayable("a dimension is not a column of the extract")
        frame = self._frame_of(s)
        name = s.name
        if not isinstance(name, str) or name not in frame.columns or not s.equals(frame[name]):
            raise NotReplayable(f"column {name!r} is not a column of the extract as read (derived or filtered "
                                "with plain pandas: use sdc.where)")
        return name

    def frame(self, data: pd.DataFrame, columns: list[str]) -> None:
        frame = self._frame_of(data)
        if data is frame:
            return
        if len(data) != len(frame) or any(c not in frame.columns or not data[c].equals(frame[c]) for c in columns):
            raise NotReplayable("the frame is not the extract as read (derived or filtered with plain pandas: "
                                "use sdc.where)")


def _names(axis: Any, tracker: _Tracker) -> list[str]:
    if isinstance(axis, pd.DataFrame):
        return [tracker.series(axis[c]) for c in axis.columns]
    if isinstance(axis, (list, tuple)):
        return [tracker.series(x) for x in axis]
    return [tracker.series(axis)]


def _agg_arg(aggfunc: Any) -> Any:
    from egress_review.checks.rules import agg_name

    if aggfunc is None or isinstance(aggfunc, str):
        return aggfunc
    if isinstance(aggfunc, (list, tuple)):
        return [_agg_arg(a) for a in aggfunc]
    name = agg_name(aggfunc)
    if not isinstance(name, str) or getattr(aggfunc, "__name__", None) not in (name, f"nan{name}"):
        raise NotReplayable(f"the aggregate {aggfunc!r} is not one pandas names")
    return name


def _plain(key: str, v: Any) -> Any:
    """An argument that is neither a column nor an aggregate: written down only as JSON values."""
    if isinstance(v, (list, tuple)):
        return [_plain(key, x) for x in v]
    try:
        return _json_scalar(v)
    except TypeError:
        raise NotReplayable(f"its argument {key}= cannot be written down") from None


def _columns_arg(x: Any) -> Any:
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, (list, tuple)) and all(isinstance(c, str) for c in x):
        return list(x)
    raise NotReplayable("columns must be given by name")


def describe(call: str, args: dict[str, Any]) -> tuple[dict | None, str | None]:
    """The replay specification of one wrapper call (JSON), or why there is none."""
    tracker = _Tracker()
    try:
        entity = args.pop("entity", None)
        if call == "crosstab":
            spec_args = {"index": _names(args["index"], tracker), "columns": _names(args["columns"], tracker),
                         "values": None if args.get("values") is None else tracker.series(args["values"]),
                         "aggfunc": _agg_arg(args.get("aggfunc")),
                         **{k: _plain(k, v) for k, v in args.items()
                            if k not in ("index", "columns", "values", "aggfunc")}}
            for k in ("rownames", "colnames"):
                if spec_args[k] is not None:
                    spec_args[k] = _columns_arg(list(spec_args[k]))
            entity_name = None if entity is None else tracker.series(entity)
        else:
            data = args.pop("data")
            spec_args = {k: _columns_arg(v) if k in ("values", "index", "columns", "by")
                         else _agg_arg(v) if k == "aggfunc"
                         else [_agg_arg(x) for x in v] if k == "stats"
                         else _plain(k, v) for k, v in args.items()}
            used = [c for k in ("values", "index", "columns", "by") for c in (
                [] if spec_args.get(k) is None else [spec_args[k]] if isinstance(spec_args[k], str) else spec_args[k])]
            if isinstance(entity, str):
                entity_name = entity
            elif entity is None:
                entity_name = None
            else:
                entity_name = tracker.series(entity)
            tracker.frame(data, used + ([entity_name] if entity_name else []))
        if tracker.origin is None:
            raise NotReplayable("it uses no column of an extract")
        origin = tracker.origin
        spec = {"source": origin["source"], "source_sha256": origin["source_sha256"],
                "filters": origin["filters"], "call": call, "args": spec_args, "entity": entity_name}
        return spec, None
    except NotReplayable as exc:
        return None, str(exc)
    except (TypeError, KeyError) as exc:
        return None, f"its arguments cannot be written down ({exc})"
