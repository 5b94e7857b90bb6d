"""A project with a DP budget on a small synthetic ``sick-leave`` extract (the real provisioning
catalogue, grant and ledger; the extract file written where provisioning's ``extract_dir`` says)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select

from provisioning import catalogue, dp_budget, projects
from provisioning.api import extract_dir
from provisioning.models import Dataset, Extract
from sandkasse.db import make_engine, make_sessionmaker, session_scope

PEOPLE = 400
ROWS_EACH = 3  # every person has three rows: a count with max_rows=1 sees PEOPLE rows


def sick_leave_frame(people: int = PEOPLE, rows_each: int = ROWS_EACH, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.repeat([f"p{i:05d}" for i in range(people)], rows_each)
    return pd.DataFrame({
        "national_id": ids,
        "gender": rng.choice(["female", "male"], len(ids)),
        "diagnosis_group": rng.choice(["Musculoskeletal (L)", "Psychological (P)", "Other"], len(ids)),
        "days": rng.integers(1, 60, len(ids)),
    })


def add_dp_dataset(database_url: str, tmp: Path, project: str = "alpha", measure: str = "epsilon",
                   total: float = 1.0, frame: pd.DataFrame | None = None) -> Path:
    frame = sick_leave_frame() if frame is None else frame
    source = tmp / "sick-leave-source.parquet"
    frame.to_parquet(source, index=False)
    engine = make_engine(database_url)
    with session_scope(make_sessionmaker(engine)) as s:
        if not s.execute(select(Dataset).where(Dataset.name == "sick-leave")).first():
            catalogue.create_dataset(s, name="sick-leave", source=source, columns={
                "national_id": "direct_identifier", "gender": "quasi_identifier",
                "diagnosis_group": "sensitive", "days": "other"})
        ent = projects.grant(s, project, "sick-leave", {
            "national_id": "pseudonymise", "gender": "keep", "diagnosis_group": "keep", "days": "keep"})
        folder = extract_dir(project)
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(folder / "sick-leave.parquet", index=False)
        s.add(Extract(project_id=ent.project_id, dataset_id=ent.dataset_id, rows=len(frame),
                      files=json.dumps(["sick-leave.parquet"])))
        s.flush()
        dp_budget.set_budget(s, project, "sick-leave", measure, total)
    engine.dispose()
    return source
