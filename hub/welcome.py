"""The welcome notebook written into a researcher's workspace at every spawn, from provisioning data:
the project's purpose, its datasets and their columns, the disclosure rules in plain words, and a
worked example that runs top to bottom on the project's own extract (which one: ``hub.welcome_example``,
shared with the R twin ``hub.welcome_r``): the sick-leave percentage per service area and year when the
datasets allow it, else people per two grouping columns chosen from the catalogue's column roles; checked with the ``sdc`` wrappers (``entity=``), the per-cell verdicts and the
protected version shown, and sent to the egress queue under a meaningful name in one call."""

from __future__ import annotations

import json

from hub.welcome_example import ByRoles, EpisodesStaff, Example, PersonYear, choose_example, data_file
from provisioning.api import ProjectDatasetInfo, ProjectInfo

WELCOME_NOTEBOOK = "Welcome.ipynb"


def md_cell(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text.strip() + "\n"}


def code_cell(text: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": text.strip() + "\n"}


def notebook_json(cells: list[dict], cell_id: str, kernelspec: dict[str, str], project: ProjectInfo) -> str:
    """``cells`` as an nbformat 4 notebook in JSON text, for ``kernelspec``'s kernel."""
    for i, cell in enumerate(cells):
        cell["id"] = f"{cell_id}-{i}"  # nbformat 4.5 requires cell ids
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": kernelspec,
            "language_info": {"name": kernelspec["language"]},
            "sandkasse": {"project": project.slug, "generated": True},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _dataset_section(ds: ProjectDatasetInfo, data_mount: str) -> str:
    rows = "\n".join(f"| `{c.name}` | {c.role.replace('_', ' ')} | {c.transformation} |" for c in ds.columns)
    files = ", ".join(f"`{data_mount}/{f}`" for f in ds.extract_files) or "(no files yet)"
    return (
        f"### {ds.dataset}\n\n{ds.description}\n\nFiles: {files}\n\n"
        f"| column | kind | how it was prepared |\n|---|---|---|\n{rows}\n"
    )


def _read(var: str, ds: ProjectDatasetInfo, data_mount: str) -> str:
    f = data_file(ds)
    reader = "read_parquet" if f.endswith(".parquet") else "read_csv"
    return f'{var} = pd.{reader}("{data_mount}/{f}")'


def _load_and_call(ex: Example, data_mount: str) -> tuple[str, str]:
    """The Python code of ``ex``: the code that builds a frame ``df`` (one row per person, or per person and
    year), and the checked call on it (``result = ...`` with an sdc wrapper and ``entity=``)."""
    if isinstance(ex, PersonYear):
        return (f"{_read('df', ex.ds, data_mount)}\ndf.head()",
                f'result = pivot_table(df, index="{ex.area}", columns="{ex.year}", values="{ex.pct}", aggfunc="mean",\n'
                f'                     entity="{ex.entity}")')
    if isinstance(ex, EpisodesStaff):
        e_id, s_id, area, contracted = ex.e_id, ex.s_id, ex.area, ex.contracted
        lost = f'episodes["days"] * episodes["{ex.weight}"] / 100' if ex.weight else 'episodes["days"]'
        load = (
            f"{_read('episodes', ex.episodes, data_mount)}\n{_read('staff', ex.staff, data_mount)}\n\n"
            "# Days lost per employee and year (weighted by the employment percentage, as Statistics Norway does)\n"
            f'episodes["year"] = episodes["{ex.start}"].dt.year\n'
            f"episodes[\"lost_days\"] = {lost}\n"
            f'lost = episodes.groupby(["{e_id}", "year"], observed=True)["lost_days"].sum().reset_index()\n'
            f'lost["{e_id}"] = lost["{e_id}"].astype(str)\n\n'
            "# Every employee in every year, also those without sick leave (0 days lost)\n"
            f'people = staff[["{s_id}", "{area}", "{contracted}"]].astype({{"{s_id}": str, "{area}": str}})\n'
            'people = people.merge(pd.DataFrame({"year": sorted(lost["year"].unique())}), how="cross")\n'
            + (f'people = people.merge(lost, on=["{s_id}", "year"], how="left")\n' if e_id == s_id else
               f'people = people.merge(lost.rename(columns={{"{e_id}": "{s_id}"}}), on=["{s_id}", "year"], '
               'how="left")\n')
            + 'people["lost_days"] = people["lost_days"].fillna(0)\n'
            f'people["sick_leave_pct"] = 100 * people["lost_days"] / people["{contracted}"]\n'
            "df = people\ndf.head()"
        )
        return (load,
                f'result = pivot_table(df, index="{area}", columns="year", values="sick_leave_pct", aggfunc="mean",\n'
                f'                     entity="{s_id}")')
    return (f"{_read('df', ex.ds, data_mount)}\ndf.head()",
            f'result = crosstab(df["{ex.a}"], df["{ex.b}"], entity=df["{ex.entity}"])')


def _example_cells(datasets: list[ProjectDatasetInfo], data_mount: str, project: ProjectInfo) -> list[dict]:
    ex = choose_example(datasets)
    if ex is None:
        return [md_cell(
            "## Worked example\n\nThis project's data has no extract yet, or no column that groups people, so "
            "there is no example to run. The pattern:\n\n```python\nimport pandas as pd\n"
            "from egress_review.sdc import crosstab\nfrom egress_review.client import request_export\n\n"
            f'df = pd.read_parquet("{data_mount}/FILE.parquet")\n'
            'result = crosstab(df["GROUP"], df["OTHER_GROUP"], entity=df["PERSON"])\n'
            'request_export({"people_by_group.csv": result}, context="what the table shows", '
            'controls="how it was made safe")\n```'
        )]
    load, call = _load_and_call(ex, data_mount)
    wrapper = "crosstab" if isinstance(ex, ByRoles) else "pivot_table"
    # the Python wrappers also suppress the cells from which a suppressed one could be worked out
    controls = f"{ex.controls}, with the cells that would reveal them"
    return [
        md_cell(
            f"## Worked example: {ex.title}\n\n{ex.intro}\n\n"
            "Run the cells from top to bottom (*Run > Run All Cells*). The table is made with an `sdc` wrapper "
            "instead of pandas: it returns the same table plus a verdict for every cell. `entity=` makes the "
            "rules count distinct people, not rows."
        ),
        code_cell(f"import pandas as pd\n\n{load}"),
        code_cell(f"from egress_review.sdc import {wrapper}\n\n{call}\nprint(result.summary)\nresult.table"),
        md_cell("The verdict per cell: the rule a cell fails, empty where it is safe."),
        code_cell("result.outcome"),
        md_cell(
            "The protected version: failing cells blanked, and the cells from which they could be worked out "
            "again. This is what is exported (`result.export(..., protected=False)` would send the raw table, "
            "for an exception you argue with the checkers)."
        ),
        code_cell("result.protected"),
        md_cell(
            "Send it to the output checkers under a name that says what it is. The file is quarantined at "
            "once; the automatic checks' verdicts are printed as they come in, and nothing leaves before two "
            "checkers approve. Follow the request in the egress review UI (*My requests*)."
        ),
        code_cell(
            "from egress_review.client import request_export\n\n"
            "export = request_export(\n"
            f'    {{"{ex.file_name}": result}},\n'
            f'    context="{ex.context} (project {project.slug})",\n'
            f'    controls="{controls}",\n'
            '    title="Worked example from Welcome.ipynb",\n'
            ")\n"
            "for f in export.files:\n"
            '    print(f"{f.name}: {f.verdict}")'
        ),
    ]


def _sentence(text: str) -> str:
    """``text`` as one sentence: folded YAML leaves a trailing newline, and a text may end with its own stop."""
    text = " ".join(str(text).split())
    return text if not text or text[-1] in ".!?" else text + "."


def render_welcome_notebook(project: ProjectInfo | None, datasets: list[ProjectDatasetInfo], data_mount: str = "/data") -> str:
    """The welcome notebook as nbformat 4 JSON text."""
    if project is None:
        raise ValueError("no project to welcome the researcher to")
    cells = [
        md_cell(
            f"# {project.title}\n\n"
            f"**Project** `{project.slug}`, open from {project.start_date.isoformat()} to {project.end_date.isoformat()}.\n\n"
            f"**Purpose.** {_sentence(project.purpose)}\n\n"
            f"**Legal basis.** {_sentence(project.legal_basis)}\n\n"
            f"**Data protection impact assessment (DPIA).** {_sentence(project.dpia_reference)}\n\n"
            "This notebook is regenerated every time your server starts; save your own work under another name."
        ),
        md_cell(
            "## Where things are\n\n"
            f"- `{data_mount}`: your project's data extracts, read-only. They are pseudonymised for this project only.\n"
            "- your home folder: your own workspace for this project; it is kept between sessions.\n"
            "- `/shared`: a folder every member of this project can read and write (when the project has one).\n\n"
            "There is no internet here and no way to download files from the browser. Results leave only "
            "through an **export request**, which automatic checks and two output checkers review."
        ),
        md_cell("## Datasets\n\n" + "\n".join(_dataset_section(ds, data_mount) for ds in datasets)),
        md_cell(
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
    kernel = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return notebook_json(cells, "welcome", kernel, project)
