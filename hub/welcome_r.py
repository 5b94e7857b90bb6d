"""Welcome-R.ipynb, the R twin of the welcome notebook (``hub.welcome``), written beside it when the notebook
image has R (its label ``org.sandkasse.r`` is ``yes``): the same project description and datasets, the
disclosure rules, and the same worked example in R with the ``sdc`` package (``r/sdc``): the table made
with an ``sdc_`` wrapper and ``entity=``, the per-cell verdicts, the protected version, and
``request_export()`` under the same meaningful name."""

from __future__ import annotations

import json

from hub.welcome import _code, _data_file, _entity, _md, _pick, _slug, episodes_and_staff, render_welcome_notebook
from provisioning.api import ProjectDatasetInfo, ProjectInfo

WELCOME_R_NOTEBOOK = "Welcome-R.ipynb"
R_LABEL = "org.sandkasse.r"


def image_has_r(labels: dict[str, str] | None) -> bool:
    """The image's own word (set at build time by ``hub.images``) that R and the sdc package are in it."""
    return (labels or {}).get(R_LABEL) == "yes"


def _read(var: str, ds: ProjectDatasetInfo, data_mount: str) -> str:
    return f'{var} <- sdc_read_extract("{data_mount}/{_data_file(ds)}")'


def _example(datasets: list[ProjectDatasetInfo], data_mount: str) -> tuple[str, str, str, str, str, str] | None:
    """(intro, load code, call code, file name, context, controls) of the first example the data allows, in
    the order ``hub.welcome`` tries them, so both notebooks export the same table under the same name."""
    for ds in datasets:  # sick-leave percentage already in the data, one row per person and year
        names = [c.name for c in ds.columns]
        area, year = _pick(names, "service_area", "tjenesteomr"), _pick(names, "year", "aar", "år")
        pct, entity = _pick(names, "sick_leave_pct", "sickleave_pct", "sykefravaer_pct", "sick_pct"), _entity(ds)
        if area and year and pct and entity and _data_file(ds):
            return (f"`{ds.dataset}` has each employee's sick-leave percentage per year (`{pct}`).",
                    f"{_read('df', ds, data_mount)}\nhead(df)",
                    f'result <- sdc_table(df, rows = "{area}", cols = "{year}", values = "{pct}", fun = "mean",\n'
                    f'                    entity = "{entity}")',
                    f"sick_leave_pct_by_{_slug(area)}_and_{_slug(year)}.csv",
                    "Mean sick-leave percentage of the employees per service area and year",
                    "Mean over employees (entity-level); cells with too few employees or dominated by one or two "
                    "are suppressed")
    if (found := episodes_and_staff(datasets)) is not None:
        episodes, staff = found
        e_names, s_names = [c.name for c in episodes.columns], [c.name for c in staff.columns]
        start, weight = _pick(e_names, "start_date", "from_date"), _pick(e_names, "employment_pct", "stillingspst")
        area, contracted = _pick(s_names, "service_area", "tjenesteomr"), _pick(s_names, "contracted_days")
        e_id, s_id = _entity(episodes), _entity(staff)
        lost = f"episodes$days * episodes${weight} / 100" if weight else "episodes$days"
        load = (
            f"{_read('episodes', episodes, data_mount)}\n{_read('staff', staff, data_mount)}\n\n"
            "# Days lost per employee and year (weighted by the employment percentage, as Statistics Norway does)\n"
            f"episodes$year <- as.integer(substr(episodes${start}, 1, 4))\n"
            f"episodes$lost_days <- {lost}\n"
            f"lost <- aggregate(lost_days ~ {e_id} + year, data = episodes, FUN = sum)\n\n"
            "# Every employee in every year, also those without sick leave (0 days lost)\n"
            f'people <- merge(staff[c("{s_id}", "{area}", "{contracted}")], data.frame(year = sort(unique(lost$year))),\n'
            "                by = NULL)\n"
            f'people <- merge(people, lost, by.x = c("{s_id}", "year"), by.y = c("{e_id}", "year"), all.x = TRUE)\n'
            "people$lost_days[is.na(people$lost_days)] <- 0\n"
            f"people$sick_leave_pct <- 100 * people$lost_days / people${contracted}\n"
            "df <- people\nhead(df)"
        )
        return (f"Sick-leave percentage: days lost in `{episodes.dataset}` (weighted by the employment percentage) "
                f"as a share of each employee's contracted days in `{staff.dataset}`, per employee and year; then "
                "the mean per service area and year.",
                load,
                f'result <- sdc_table(df, rows = "{area}", cols = "year", values = "sick_leave_pct", fun = "mean",\n'
                f'                    entity = "{s_id}")',
                f"sick_leave_pct_by_{_slug(area)}_and_year.csv",
                "Mean sick-leave percentage of the employees per service area and year",
                "Mean over employees (entity-level); cells with too few employees or dominated by one or two are "
                "suppressed")
    for ds in datasets:  # any dataset: distinct people per two grouping columns
        entity = _entity(ds)
        if _data_file(ds) is None or entity is None:
            continue
        groups = [c for c in ds.columns if c.role == "quasi_identifier" and c.transformation != "pseudonymise"]
        groups.sort(key=lambda c: not c.transformation.startswith("generalise"))
        if len(groups) >= 2:
            a, b = groups[0].name, groups[1].name
            return (f"`{ds.dataset}`: how many distinct people (`{entity}`) there are per `{a}` and `{b}`.",
                    f"{_read('df', ds, data_mount)}\nhead(df)",
                    f'result <- sdc_crosstab(df, rows = "{a}", cols = "{b}", entity = "{entity}")',
                    f"people_by_{_slug(a)}_and_{_slug(b)}.csv",
                    f"Number of people per {a.replace('_', ' ')} and {b.replace('_', ' ')}",
                    "Counts of distinct people (entity-level); cells under the threshold are suppressed")
    return None


def _example_cells(datasets: list[ProjectDatasetInfo], data_mount: str, project: ProjectInfo) -> list[dict]:
    ex = _example(datasets, data_mount)
    if ex is None:
        return [_md(
            "## Worked example\n\nThis project's data has no extract yet, or no column that groups people. The "
            "pattern:\n\n```r\nlibrary(sdc)\n"
            f'df <- sdc_read_extract("{data_mount}/FILE.parquet")\n'
            'result <- sdc_crosstab(df, rows = "GROUP", cols = "OTHER_GROUP", entity = "PERSON")\n'
            'request_export(list("people_by_group.csv" = result), context = "what the table shows",\n'
            '               controls = "how it was made safe")\n```'
        )]
    intro, load, call, file_name, context, controls = ex
    return [
        _md(f"## Worked example in R\n\n{intro}\n\nRun the cells from top to bottom (*Run > Run All Cells*). The "
            "table is made with an `sdc_` wrapper: it returns the table plus a verdict for every cell. `entity =` "
            "makes the rules count distinct people, not rows."),
        _code(f"library(sdc)\n\n{load}"),
        _code(f"{call}\nprint(result$summary)\nresult$table"),
        _md("The verdict per cell: the rule a cell fails, empty where it is safe."),
        _code("result$outcome"),
        _md("The protected version: failing cells blanked. This is what is exported "
            "(`sdc_export(result, protected = FALSE)` would write the raw table, for an exception you argue with "
            "the checkers)."),
        _code("result$protected"),
        _md("Send it to the output checkers under a name that says what it is. The file is quarantined at once; "
            "the automatic checks' verdicts are printed as they come in, and nothing leaves before two checkers "
            "approve."),
        _code(
            "export <- request_export(\n"
            f'  list("{file_name}" = result),\n'
            f'  context = "{context} (project {project.slug})",\n'
            f'  controls = "{controls}",\n'
            '  title = "Worked example from Welcome-R.ipynb",\n'
            "  show = FALSE\n"
            ")\n"
            f'cat(sprintf("Release request %s: %s\\n", export$request_id, export$state))\n'
            'for (f in export$files) cat(sprintf("%s: %s\\n", f$name, f$verdict))'
        ),
    ]


def render_welcome_r_notebook(project: ProjectInfo | None, datasets: list[ProjectDatasetInfo],
                              data_mount: str = "/data") -> str:
    """The R welcome notebook as nbformat 4 JSON text: the Python one's description of the project and its
    data, then the rules and the worked example in R."""
    python = json.loads(render_welcome_notebook(project, datasets, data_mount))
    cells = python["cells"][:3]  # title and purpose, where things are, the datasets
    cells.append(_md(
        "## The disclosure rules in plain words\n\n"
        "- Every number you export must describe enough people: a cell built from too few people fails "
        "(the threshold), and so does a cell where one or two people make up most of the total (dominance).\n"
        "- Zero cells can reveal people too; they are checked like every other cell.\n"
        "- Never export single records, identifiers or pseudonyms; files with them are refused.\n"
        "- Regressions (`sdc_lm()`, `sdc_glm()`) need enough residual degrees of freedom.\n"
        "- Make tables with the `sdc` package (`sdc_crosstab()`, `sdc_table()`, `sdc_aggregate()`): they apply "
        "the same rules as the Python wrappers and the egress service, show you the verdict per cell *before* "
        "you ask, and send the evidence the checkers need with the table. `sdc_read_extract()` reads the "
        "Parquet extracts."
    ))
    cells += _example_cells(datasets, data_mount, project)
    for i, cell in enumerate(cells):
        cell["id"] = f"welcome-r-{i}"
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "R", "language": "R", "name": "ir"},
            "language_info": {"name": "R"},
            "sandkasse": {"project": project.slug if project else None, "generated": True},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
