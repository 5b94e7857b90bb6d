"""The welcome notebook written into a researcher's workspace at every spawn, from provisioning data:
the project's purpose, its datasets and their columns, the disclosure rules in plain words, and a
worked example that runs top to bottom on the project's own extract: the sick-leave percentage per
service area and year when the datasets allow it, else people per two grouping columns chosen from the
catalogue's column roles; checked with the ``sdc`` wrappers (``entity=``), the per-cell verdicts and the
protected version shown, and sent to the egress queue under a meaningful name in one call."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

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


def _data_file(ds: ProjectDatasetInfo) -> str | None:
    return next((f for f in ds.extract_files if f.endswith(".parquet")), None) or next(
        (f for f in ds.extract_files if f.endswith(".csv")), None)


def _read(var: str, ds: ProjectDatasetInfo, data_mount: str) -> str:
    f = _data_file(ds)
    reader = "read_parquet" if f.endswith(".parquet") else "read_csv"
    return f'{var} = pd.{reader}("{data_mount}/{f}")'


def _entity(ds: ProjectDatasetInfo) -> str | None:
    """The person's pseudonym: the catalogue's direct identifier, pseudonymised for this project."""
    for c in ds.columns:
        if c.role == "direct_identifier" and c.transformation == "pseudonymise":
            return c.name
    return _pick([c.name for c in ds.columns], "pseudonym", "employee_id", "person_id")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@dataclass
class _Example:
    """What a worked example needs: its title, the code that builds a frame ``df`` (one row per person, or
    per person and year), and the checked call on it."""

    title: str
    intro: str
    load: str  # code: reads the extract(s), ends with a frame ``df``
    call: str  # code: ``result = ...`` with an sdc wrapper and ``entity=``
    file_name: str
    context: str
    controls: str


def _per_person_year(datasets: list[ProjectDatasetInfo], data_mount: str) -> _Example | None:
    """Sick-leave percentage already in the data, one row per person and year."""
    for ds in datasets:
        names = [c.name for c in ds.columns]
        area = _pick(names, "service_area", "tjenesteomr")
        year = _pick(names, "year", "aar", "år")
        pct = _pick(names, "sick_leave_pct", "sickleave_pct", "sykefravaer_pct", "sick_pct")
        entity = _entity(ds)
        if area and year and pct and entity and _data_file(ds):
            return _Example(
                "sick-leave percentage per service area and year",
                f"`{ds.dataset}` has each employee's sick-leave percentage per year (`{pct}`).",
                f"{_read('df', ds, data_mount)}\ndf.head()",
                f'result = pivot_table(df, index="{area}", columns="{year}", values="{pct}", aggfunc="mean",\n'
                f'                     entity="{entity}")',
                f"sick_leave_pct_by_{_slug(area)}_and_{_slug(year)}.csv",
                "Mean sick-leave percentage of the employees per service area and year",
                "Mean over employees (entity-level); cells with too few employees or dominated by one or two are "
                "suppressed, with the cells that would reveal them",
            )
    return None


def episodes_and_staff(datasets: list[ProjectDatasetInfo]) -> tuple[ProjectDatasetInfo, ProjectDatasetInfo] | None:
    """The sick-leave episodes (start date, days) and the staff register (contracted days) among the
    project's datasets, each with a data file and a person column; both welcome notebooks use them."""
    episodes = staff = None
    for ds in datasets:
        names = [c.name for c in ds.columns]
        if _data_file(ds) is None or _entity(ds) is None:
            continue
        if episodes is None and _pick(names, "days") == "days" and _pick(names, "start_date", "from_date"):
            episodes = ds
        elif staff is None and _pick(names, "contracted_days") and _pick(names, "service_area", "tjenesteomr"):
            staff = ds
    return (episodes, staff) if episodes is not None and staff is not None else None


def _episodes_and_staff(datasets: list[ProjectDatasetInfo], data_mount: str) -> _Example | None:
    """Sick-leave episodes (start date, days) and a staff register (contracted days): the percentage as
    Statistics Norway defines it, per employee and year, over every employee (with or without leave)."""
    if (found := episodes_and_staff(datasets)) is None:
        return None
    episodes, staff = found
    e_names, s_names = [c.name for c in episodes.columns], [c.name for c in staff.columns]
    start = _pick(e_names, "start_date", "from_date")
    weight = _pick(e_names, "employment_pct", "stillingspst")
    area, contracted = _pick(s_names, "service_area", "tjenesteomr"), _pick(s_names, "contracted_days")
    e_id, s_id = _entity(episodes), _entity(staff)
    lost = f'episodes["days"] * episodes["{weight}"] / 100' if weight else 'episodes["days"]'
    load = (
        f"{_read('episodes', episodes, data_mount)}\n{_read('staff', staff, data_mount)}\n\n"
        "# Days lost per employee and year (weighted by the employment percentage, as Statistics Norway does)\n"
        f'episodes["year"] = episodes["{start}"].dt.year\n'
        f"episodes[\"lost_days\"] = {lost}\n"
        f'lost = episodes.groupby(["{e_id}", "year"], observed=True)["lost_days"].sum().reset_index()\n'
        f'lost["{e_id}"] = lost["{e_id}"].astype(str)\n\n'
        "# Every employee in every year, also those without sick leave (0 days lost)\n"
        f'people = staff[["{s_id}", "{area}", "{contracted}"]].astype({{"{s_id}": str, "{area}": str}})\n'
        'people = people.merge(pd.DataFrame({"year": sorted(lost["year"].unique())}), how="cross")\n'
        + (f'people = people.merge(lost, on=["{s_id}", "year"], how="left")\n' if e_id == s_id else
           f'people = people.merge(lost.rename(columns={{"{e_id}": "{s_id}"}}), on=["{s_id}", "year"], how="left")\n')
        + 'people["lost_days"] = people["lost_days"].fillna(0)\n'
        f'people["sick_leave_pct"] = 100 * people["lost_days"] / people["{contracted}"]\n'
        "df = people\ndf.head()"
    )
    return _Example(
        "sick-leave percentage per service area and year",
        f"Sick-leave percentage: days lost in `{episodes.dataset}` (weighted by the employment percentage) as a "
        f"share of each employee's contracted days in `{staff.dataset}`, per employee and year; then the mean "
        "per service area and year.",
        load,
        f'result = pivot_table(df, index="{area}", columns="year", values="sick_leave_pct", aggfunc="mean",\n'
        f'                     entity="{s_id}")',
        f"sick_leave_pct_by_{_slug(area)}_and_year.csv",
        "Mean sick-leave percentage of the employees per service area and year",
        "Mean over employees (entity-level); cells with too few employees or dominated by one or two are "
        "suppressed, with the cells that would reveal them",
    )


def _by_column_roles(datasets: list[ProjectDatasetInfo], data_mount: str) -> _Example | None:
    """Any dataset: distinct people per two grouping columns. The catalogue says which columns group people
    (quasi-identifiers; generalised ones such as age bands first, they are coarse by design) and which one is
    the person (the pseudonymised direct identifier)."""
    for ds in datasets:
        entity = _entity(ds)
        if _data_file(ds) is None or entity is None:
            continue
        groups = [c for c in ds.columns if c.role == "quasi_identifier" and c.transformation != "pseudonymise"]
        groups.sort(key=lambda c: not c.transformation.startswith("generalise"))
        if len(groups) < 2:
            continue
        a, b = groups[0].name, groups[1].name
        return _Example(
            f"people per {a.replace('_', ' ')} and {b.replace('_', ' ')}",
            f"`{ds.dataset}`: how many distinct people (`{entity}`) there are per `{a}` and `{b}`.",
            f"{_read('df', ds, data_mount)}\ndf.head()",
            f'result = crosstab(df["{a}"], df["{b}"], entity=df["{entity}"])',
            f"people_by_{_slug(a)}_and_{_slug(b)}.csv",
            f"Number of people per {a.replace('_', ' ')} and {b.replace('_', ' ')}",
            "Counts of distinct people (entity-level); cells under the threshold are suppressed, with the cells "
            "that would reveal them",
        )
    return None


def _example_cells(datasets: list[ProjectDatasetInfo], data_mount: str, project: ProjectInfo) -> list[dict]:
    ex = (_per_person_year(datasets, data_mount) or _episodes_and_staff(datasets, data_mount)
          or _by_column_roles(datasets, data_mount))
    if ex is None:
        return [_md(
            "## Worked example\n\nThis project's data has no extract yet, or no column that groups people, so "
            "there is no example to run. The pattern:\n\n```python\nimport pandas as pd\n"
            "from egress_review.sdc import crosstab\nfrom egress_review.client import request_export\n\n"
            f'df = pd.read_parquet("{data_mount}/FILE.parquet")\n'
            'result = crosstab(df["GROUP"], df["OTHER_GROUP"], entity=df["PERSON"])\n'
            'request_export({"people_by_group.csv": result}, context="what the table shows", '
            'controls="how it was made safe")\n```'
        )]
    wrapper = "crosstab" if ex.call.startswith("result = crosstab") else "pivot_table"
    return [
        _md(
            f"## Worked example: {ex.title}\n\n{ex.intro}\n\n"
            "Run the cells from top to bottom (*Run > Run All Cells*). The table is made with an `sdc` wrapper "
            "instead of pandas: it returns the same table plus a verdict for every cell. `entity=` makes the "
            "rules count distinct people, not rows."
        ),
        _code(f"import pandas as pd\n\n{ex.load}"),
        _code(f"from egress_review.sdc import {wrapper}\n\n{ex.call}\nprint(result.summary)\nresult.table"),
        _md("The verdict per cell: the rule a cell fails, empty where it is safe."),
        _code("result.outcome"),
        _md(
            "The protected version: failing cells blanked, and the cells from which they could be worked out "
            "again. This is what is exported (`result.export(..., protected=False)` would send the raw table, "
            "for an exception you argue with the checkers)."
        ),
        _code("result.protected"),
        _md(
            "Send it to the output checkers under a name that says what it is. The file is quarantined at "
            "once; the automatic checks' verdicts are printed as they come in, and nothing leaves before two "
            "checkers approve. Follow the request in the egress review UI (*My requests*)."
        ),
        _code(
            "from egress_review.client import request_export\n\n"
            "export = request_export(\n"
            f'    {{"{ex.file_name}": result}},\n'
            f'    context="{ex.context} (project {project.slug})",\n'
            f'    controls="{ex.controls}",\n'
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
        _md(
            f"# {project.title}\n\n"
            f"**Project** `{project.slug}`, open from {project.start_date.isoformat()} to {project.end_date.isoformat()}.\n\n"
            f"**Purpose.** {_sentence(project.purpose)}\n\n"
            f"**Legal basis.** {_sentence(project.legal_basis)}\n\n"
            f"**Data protection impact assessment (DPIA).** {_sentence(project.dpia_reference)}\n\n"
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
