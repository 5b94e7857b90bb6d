"""The welcome notebook written into a researcher's workspace at every spawn, from provisioning data:
the project's purpose, its datasets and their columns, the disclosure rules in plain words, and a
worked example (sick-leave percentage per service area and year, checked with the ``sdc`` wrappers
and sent to the egress queue in one call)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from provisioning.api import ProjectDatasetInfo, ProjectInfo

WELCOME_NOTEBOOK = "Welcome.ipynb"


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text.strip() + "\n"}


def _code(text: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": text.strip() + "\n"}


def _pick(columns: Iterable[str], *needles: str) -> str | None:
    """The first column whose name contains one of ``needles`` (in order of preference)."""
    cols = list(columns)
    for needle in needles:
        for col in cols:
            if needle in col.lower():
                return col
    return None


def _dataset_section(ds: ProjectDatasetInfo, data_mount: str) -> str:
    rows = "\n".join(f"| `{c.name}` | {c.role.replace('_', ' ')} | {c.transformation} |" for c in ds.columns)
    files = ", ".join(f"`{data_mount}/{f}`" for f in ds.extract_files) or "(no files yet)"
    return (
        f"### {ds.dataset}\n\n{ds.description}\n\nFiles: {files}\n\n"
        f"| column | kind | how it was prepared |\n|---|---|---|\n{rows}\n"
    )


def _example_cells(datasets: list[ProjectDatasetInfo], data_mount: str, project: ProjectInfo) -> list[dict]:
    for ds in datasets:
        names = [c.name for c in ds.columns]
        area = _pick(names, "service_area", "tjenesteomr", "area", "sector", "unit")
        year = _pick(names, "year", "aar", "år")
        pct = _pick(names, "sick_leave_pct", "sickleave_pct", "percent", "pct", "sick")
        entity = _pick(names, "employee_id", "person_id", "pseudonym", "employee", "person")
        data_file = next((f for f in ds.extract_files if f.endswith(".parquet")), None) or next(iter(ds.extract_files), None)
        if not (area and year and pct and data_file):
            continue
        reader = "read_parquet" if data_file.endswith(".parquet") else "read_csv"
        entity_arg = f', entity="{entity}"' if entity else ""
        return [
            _md(
                "## Worked example: sick-leave percentage per service area and year\n\n"
                f"Read the extract, then compute the table with the `sdc` wrapper instead of pandas: it returns the "
                f"same table plus a verdict for every cell. `entity=` makes the rules count distinct people, not rows."
            ),
            _code(f'import pandas as pd\n\ndf = pd.{reader}("{data_mount}/{data_file}")\ndf.head()'),
            _code(
                "from egress_review.sdc import pivot_table\n\n"
                f'result = pivot_table(df, index="{area}", columns="{year}", values="{pct}", aggfunc="mean"{entity_arg})\n'
                "print(result.summary)\nresult.table"
            ),
            _md(
                "`result.outcome` names the rule each cell fails (empty where the cell is safe). When the summary "
                "says *pass* or *review*, send the table to the output checkers in one call:"
            ),
            _code(
                "from egress_review.client import request_export\n\n"
                "request_export(\n"
                "    [result],\n"
                f'    context="Sick-leave percentage per service area and year, project {project.slug}",\n'
                '    controls="Mean over employees; every cell counts at least the minimum number of distinct employees",\n'
                ")"
            ),
        ]
    return [
        _md(
            "## Worked example\n\n```python\nimport pandas as pd\nfrom egress_review.sdc import pivot_table\n"
            "from egress_review.client import request_export\n\n"
            f'df = pd.read_parquet("{data_mount}/<file>.parquet")\n'
            'result = pivot_table(df, index="<group>", columns="<year>", values="<measure>", aggfunc="mean", entity="<person id>")\n'
            'request_export([result], context="what the table shows", controls="how it was made safe")\n```'
        )
    ]


def render_welcome_notebook(project: ProjectInfo | None, datasets: list[ProjectDatasetInfo], data_mount: str = "/data") -> str:
    """The welcome notebook as nbformat 4 JSON text."""
    if project is None:
        raise ValueError("no project to welcome the researcher to")
    cells = [
        _md(
            f"# {project.title}\n\n"
            f"**Project** `{project.slug}`, open from {project.start_date.isoformat()} to {project.end_date.isoformat()}.\n\n"
            f"**Purpose.** {project.purpose}\n\n"
            f"**Legal basis.** {project.legal_basis}. DPIA: {project.dpia_reference}.\n\n"
            "This notebook is regenerated every time your server starts; save your own work under another name."
        ),
        _md(
            "## Where things are\n\n"
            f"- `{data_mount}`: your project's data extracts, read-only. They are pseudonymised for this project only.\n"
            "- your home folder: your own workspace for this project; it is kept between sessions.\n"
            "- `/shared`: a folder every member of this project can read and write (when the project has one).\n\n"
            "There is no internet here and no way to download files from the browser. Results leave only "
            "through an **export request**, which automatic checks and two output checkers review."
        ),
        _md("## Datasets\n\n" + "\n".join(_dataset_section(ds, data_mount) for ds in datasets)),
        _md(
            "## The disclosure rules in plain words\n\n"
            "- Every number you export must describe enough people: a cell built from too few people fails "
            "(the threshold), and so does a cell where one or two people make up most of the total (dominance).\n"
            "- Zero cells and totals can reveal people too; they are checked like every other cell.\n"
            "- Never export single records, identifiers or pseudonyms; files with them are refused.\n"
            "- Regressions need enough residual degrees of freedom.\n"
            "- Use the `egress_review.sdc` wrappers (`crosstab`, `pivot_table`, ...): they show you the verdict "
            "per cell *before* you ask, and send the evidence the checkers need with the table.\n\n"
            "From a terminal-less notebook you can also run `!sandkasse-export FILE --context ... --controls ...`."
        ),
        *_example_cells(datasets, data_mount, project),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"welcome-{i}"  # nbformat 4.5 requires cell ids
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "sandkasse": {"project": project.slug, "generated": True},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
