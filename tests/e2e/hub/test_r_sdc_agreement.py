"""R beside Python (issue 17.1): the same tables made with the R package ``r/sdc`` in the real notebook
image and with ``egress_review.sdc`` give the same per-cell outcomes, the same protected tables and the
same sidecars (floats compared with a tolerance: the two languages format and sum them differently), the
replay specification included; both sidecars validate against the one schema
(``egress_review/sdc/sidecar.schema.json``), the server's checks read the R sidecar as evidence, reaching the
Python table's verdict and flags, and the server's replay (the Python wrappers run on the extract)
reproduces every R table.

Also here: the image registers the R kernel system-wide, read-only for the researcher."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

from egress_review import sdc
from egress_review.checks import CheckContext, check_file
from egress_review.checks.policy import DisclosurePolicy, load_disclosure_policy
from egress_review.checks.replay import MISMATCH, NOT_REPLAYABLE, REPRODUCED
from egress_review.replay import replay_table
from egress_review.sdc.sidecar_schema import load_schema
from sandkasse.settings import REPO_ROOT

pytestmark = pytest.mark.e2e

R_SCRIPT = Path(__file__).with_name("r") / "agreement.R"
# what differs by construction: when and by what it was written, and the bytes (float formatting)
UNCOMPARED = {"created_at", "generator", "sha256", "table_file"}


def synthetic(n: int = 900, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    people = rng.integers(0, n // 3, n)
    df = pd.DataFrame({
        "person": [f"p{p:05d}" for p in people],
        "area": rng.choice(["Helse", "Skole", "Kultur", "Øvrig", "Bygdøy"], n, p=[0.4, 0.35, 0.2, 0.047, 0.003]),
        "gender": rng.choice(["K", "M"], n),
        "year": rng.choice([2023, 2024], n),
        "age": rng.integers(20, 67, n),
        "days": rng.gamma(2.0, 6.0, n).round(1),
    })
    df.loc[df.index[df.area == "Kultur"][:1], "days"] = 40000.0  # one person dominates a sum
    df.loc[df.index[df.area == "Skole"][:1], "days"] = -2.0  # a negative contribution: dominance undefined
    df["long"] = (df.days > 14).astype(int)
    # edge cases: missing keys (left out), booleans and fractions as labels, missing values (the missing rule)
    df["unit"] = rng.choice(["Nord", "Sør", "Vest", None], n, p=[0.45, 0.3, 0.23, 0.02])
    df["flag"] = rng.choice([True, False], n)
    df["score"] = rng.choice([0.5, 1.5, 2.25], n)
    df["hours"] = np.where(rng.random(n) < 0.04, np.nan, rng.gamma(2.0, 3.0, n).round(2))
    return df


def python_results(df: pd.DataFrame, policy: DisclosurePolicy, rounded: DisclosurePolicy,
                   missing_on: DisclosurePolicy) -> dict[str, sdc.SDCResult]:
    f = sdc.where(df, ("days", ">=", 5), year=2023)  # a filter the server's replay applies again
    return {
        "people": sdc.crosstab(df.area, df.gender, entity=df.person, policy=policy),
        "days_sum": sdc.crosstab(df.area, df.year, values=df.days, aggfunc="sum", entity=df.person, policy=policy),
        "two_rows": sdc.crosstab([df.area, df.gender], df.year, policy=policy),
        "mean_days": sdc.pivot_table(df, values="days", index="area", columns="year", aggfunc="mean",
                                     entity="person", policy=policy),
        "median_days": sdc.pivot_table(df, values="days", index="area", aggfunc="median", policy=policy),
        "describe": sdc.describe_by(df, "area", "days", stats=["count", "mean", "std", "min", "median", "max"],
                                    entity="person", policy=policy),
        "rounded": sdc.crosstab(df.area, df.gender, entity=df.person, policy=rounded, name="rounded_people"),
        "ols": sdc.ols(formula="days ~ age", data=df, policy=policy),
        "ols_small": sdc.ols(formula="days ~ age", data=df.iloc[:8], policy=policy, name="ols_small"),
        "logit": sdc.logit(formula="long ~ age", data=df, policy=policy),
        "edge_keys": sdc.crosstab(df.unit, df.flag, entity=df.person, policy=policy),
        "edge_float": sdc.pivot_table(df, values="hours", index="score", columns="flag", aggfunc="sum",
                                      entity="person", policy=missing_on),
        "edge_missing": sdc.describe_by(df, "unit", "hours", stats=["count", "mean", "median"], policy=missing_on),
        # totals, and the secondary suppression that protects them
        "people_totals": sdc.crosstab(df.area, df.gender, entity=df.person, margins=True, policy=policy,
                                      name="people_totals"),
        "days_totals": sdc.crosstab(df.area, df.year, values=df.days, aggfunc="sum", margins=True,
                                    margins_name="Total", policy=policy, name="days_totals"),
        "two_rows_totals": sdc.crosstab([df.area, df.gender], df.year, margins=True, policy=policy,
                                        name="two_rows_totals"),
        "mean_totals": sdc.pivot_table(df, values="days", index="area", columns="year", aggfunc="mean",
                                       entity="person", margins=True, policy=policy, name="mean_totals"),
        "rounded_totals": sdc.crosstab(df.area, df.gender, entity=df.person, margins=True, policy=rounded,
                                       name="rounded_totals"),
        "filtered": sdc.crosstab(f.area, f.gender, entity=f.person, policy=policy, name="filtered"),
        "sum_by_area": sdc.pivot_table(df, values="days", index="area", aggfunc="sum", margins=True, policy=policy,
                                       name="sum_by_area"),
    }


def close(a, b, path: str = "") -> None:
    """``a`` equals ``b``, numbers within a relative 1e-7 (JSON 5 and 5.0 alike)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{path}: keys differ: {sorted(a.keys() ^ b.keys())}"
        for k in a:
            close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: {len(a)} vs {len(b)} entries"
        for i, (x, y) in enumerate(zip(a, b)):
            close(x, y, f"{path}[{i}]")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        assert math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-9), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def table_values(frame: pd.DataFrame, levels: int) -> tuple[list[list[str]], np.ndarray]:
    labels = frame.iloc[:, :levels].astype(str).to_numpy().tolist()
    return labels, frame.iloc[:, levels:].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)


@pytest.fixture(scope="module")
def r_run(notebook_image, docker_client, tmp_path_factory):
    """Run agreement.R once in the notebook image: no network, as the researcher, the work folder mounted."""
    work = tmp_path_factory.mktemp("r-agreement")
    synthetic().to_parquet(work / "data.parquet", index=False)
    (work / "rounding.yaml").write_text("rounding:\n  enabled: true\n  base: 5\n  method: nearest\n")
    (work / "missing.yaml").write_text("missing:\n  enabled: true\n")
    (work / "agreement.R").write_text(R_SCRIPT.read_text())
    (work / "out").mkdir()
    for p in (work, work / "out"):
        p.chmod(0o777)  # the container writes as uid 1000
    docker_client.containers.run(
        notebook_image, ["Rscript", "/work/agreement.R"], user="1000:1000", network_mode="none", remove=True,
        volumes={str(work): {"bind": "/work", "mode": "rw"}}, working_dir="/work",
    )
    index = {}
    for line in (work / "out" / "index.tsv").read_text().splitlines():
        key, name, status = line.split("\t")
        index[key] = (work / "out" / name, status)
    return work, index


def test_r_and_python_give_the_same_outcomes_tables_and_sidecars(r_run, tmp_path):
    work, index = r_run
    df = sdc.read_extract(work / "data.parquet")
    policy = load_disclosure_policy(REPO_ROOT / "policies" / "disclosure.yaml")
    rounded = DisclosurePolicy.model_validate({**policy.model_dump(), "rounding": {"enabled": True, "base": 5}})
    missing_on = DisclosurePolicy.model_validate({"missing": {"enabled": True}})
    schema = load_schema()
    statuses = set()
    for key, py in python_results(df, policy, rounded, missing_on).items():
        r_table, r_status = index[key]
        assert r_table.name == py.file_name, f"{key}: R names the export {r_table.name}, Python {py.file_name}"
        assert r_status == py.status, f"{key}: R says {r_status}, Python {py.status}"
        statuses.add(r_status)
        py_table, py_side = py.export(tmp_path / py.file_name)
        r_side = Path(str(r_table) + ".sdc.json")
        r_meta, py_meta = json.loads(r_side.read_text()), json.loads(py_side.read_text())
        jsonschema.validate(r_meta, schema)
        jsonschema.validate(py_meta, schema)
        close({k: v for k, v in r_meta.items() if k not in UNCOMPARED},
              {k: v for k, v in py_meta.items() if k not in UNCOMPARED}, key)
        # the per-cell outcome, cell by cell
        r_outcome = pd.read_csv(str(r_table) + ".outcome.csv", keep_default_na=False, dtype=str)
        levels = py_meta["index_levels"]
        assert r_outcome.iloc[:, levels:].to_numpy().tolist() == py.outcome.to_numpy().tolist(), key
        # the protected table as exported: same labels, same numbers (floats within tolerance)
        r_labels, r_vals = table_values(pd.read_csv(r_table, keep_default_na=False, na_values=[""], dtype=str), levels)
        p_labels, p_vals = table_values(pd.read_csv(py_table, keep_default_na=False, na_values=[""], dtype=str), levels)
        assert r_labels == p_labels, key
        np.testing.assert_allclose(r_vals, p_vals, rtol=1e-5, atol=1e-8, equal_nan=True, err_msg=key)
        # the server reads the R sidecar as evidence and reaches the Python export's verdict and flags
        ctx = CheckContext(person_level=True)
        r_report = check_file(r_table, declared_name=r_table.name, sidecar=r_side, policy=policy, context=ctx)
        py_report = check_file(py_table, declared_name=py_table.name, sidecar=py_side, policy=policy, context=ctx)
        assert not [u for u in r_report.unverifiable if "sidecar" in u], (key, r_report.unverifiable)
        assert r_report.verdict == py_report.verdict, key
        assert sorted((f.rule, f.row, f.column) for f in r_report.flags) == \
            sorted((f.rule, f.row, f.column) for f in py_report.flags), key
        if r_meta["kind"] == "table":  # the server makes the R table again from the extract, with Python
            replayed = replay_table(r_table, r_side, work, tmp_path)
            assert replayed.note.status == REPRODUCED, (key, replayed.note.detail)
    assert statuses >= {"pass", "fail"}, "the cases should include clean and failing tables"


def test_an_r_table_changed_after_the_wrapper_or_made_from_changed_data_is_not_taken_on_trust(r_run, tmp_path):
    """The server replays an R table from the extract: a cell edited after sdc_crosstab made the table (the
    sidecar's hash updated to match) is a mismatch; rows dropped in R make the table "not replayable"."""
    work, index = r_run
    table, _ = index["people"]
    meta = json.loads(Path(str(table) + ".sdc.json").read_text())
    edited = tmp_path / table.name
    lines = table.read_text().splitlines()
    label, first, *rest = lines[2].split(",")
    lines[2] = ",".join([label, str(int(first) + 40), *rest])
    edited.write_text("\n".join(lines) + "\n")
    meta["sha256"] = hashlib.sha256(edited.read_bytes()).hexdigest()
    Path(str(edited) + ".sdc.json").write_text(json.dumps(meta))
    assert replay_table(edited, Path(str(edited) + ".sdc.json"), work, tmp_path).note.status == MISMATCH
    derived, _ = index["derived"]
    meta = json.loads(Path(str(derived) + ".sdc.json").read_text())
    assert meta["replay"] is None and "not the extract as read" in meta["replay_problem"]
    assert replay_table(derived, Path(str(derived) + ".sdc.json"), work, tmp_path).note.status == NOT_REPLAYABLE


def test_a_sidecar_the_schema_refuses(r_run):
    """The schema is not a formality: an R sidecar with a malformed cell list is refused."""
    _, index = r_run
    meta = json.loads(Path(str(index["people"][0]) + ".sdc.json").read_text())
    jsonschema.validate(meta, load_schema())
    meta["cells"]["count"] = ["many"] * len(meta["cells"]["count"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(meta, load_schema())


def test_the_r_kernel_is_registered_system_wide_and_read_only(notebook_image, docker_client):
    # checked as "control removed" by chown-ing both folders to uid 1000 first: the script then says nothing
    script = ("jupyter kernelspec list --json && "
              "test -r /usr/share/jupyter/kernels/ir/kernel.json && test -d /usr/local/lib/R/site-library/sdc/R && "
              "test ! -w /usr/share/jupyter/kernels/ir/kernel.json && test ! -w /usr/share/jupyter/kernels/ir && "
              "test ! -w /usr/local/lib/R/site-library/sdc && test ! -w /usr/local/lib/R/site-library && echo read-only")
    out = docker_client.containers.run(notebook_image, ["sh", "-c", script], user="1000:1000", network_mode="none",
                                       remove=True).decode()
    specs = json.loads(out[: out.rindex("}") + 1])["kernelspecs"]
    assert specs["ir"]["resource_dir"] == "/usr/share/jupyter/kernels/ir"
    assert specs["ir"]["spec"]["language"] == "R"
    assert out.strip().endswith("read-only")


# The R kernel as the notebook server starts it (the resolved "ir" kernelspec's argv), with IRkernel::main()
# swapped for a probe, in a folder another member could write (/shared).
_KERNEL_PROBE = r"""
import subprocess
from jupyter_client.kernelspec import KernelSpecManager
argv = KernelSpecManager().get_kernel_spec("ir").argv
argv = [a if a != "IRkernel::main()" else 'cat("PROBE[", Sys.getenv("PLANTED"), "]\\n", sep = "")' for a in argv]
argv = argv[: argv.index("--args")] if "--args" in argv else argv
print(subprocess.run(argv, capture_output=True, text=True, cwd="/shared").stdout)
"""


def test_the_r_kernel_runs_no_startup_file_another_member_planted_in_shared(notebook_image, docker_client, tmp_path):
    """A notebook opened in /shared starts its kernel there: R would read that folder's .Rprofile and
    .Renviron and restore its .RData (running its .First), i.e. run another member's code as you.
    Control removed: the image's kernelspec without --no-restore and without R_PROFILE_USER /
    R_ENVIRON_USER prints RPROFILE-RAN, FIRST-RAN and PLANTED=yes (checked on the image before the fix)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    run = {"user": "1000:1000", "network_mode": "none", "remove": True,
           "volumes": {str(shared): {"bind": "/shared", "mode": "rw"}}, "working_dir": "/shared"}
    docker_client.containers.run(notebook_image, ["Rscript", "--vanilla", "-e",
                                                  '.First <- function() cat("FIRST-RAN\\n"); save(.First, file = ".RData")'], **run)
    (shared / ".Rprofile").write_text('cat("RPROFILE-RAN\\n")\n')
    (shared / ".Renviron").write_text("PLANTED=yes\n")
    out = docker_client.containers.run(notebook_image, ["python", "-c", _KERNEL_PROBE], **run).decode()
    assert "PROBE[]" in out, out
    assert "RPROFILE-RAN" not in out and "FIRST-RAN" not in out, out
