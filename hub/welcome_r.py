"""Welcome-R.ipynb, the R twin of the welcome notebook (``hub.welcome``), written beside it when the notebook
image has R (its label ``org.sandkasse.r`` is ``yes``): the same project description and datasets, the
disclosure rules, and the same worked example in R with the ``sdc`` package (``r/sdc``): the table made
with an ``sdc_`` wrapper and ``entity=``, the per-cell verdicts, the protected version, and
``request_export()`` under the same meaningful name."""

from __future__ import annotations

import json

from hub.welcome import code_cell, md_cell, notebook_json, render_welcome_notebook
from hub.welcome_example import EpisodesStaff, Example, PersonYear, choose_example, data_file
from provisioning.api import ProjectDatasetInfo, ProjectInfo

WELCOME_R_NOTEBOOK = "Welcome-R.ipynb"
R_LABEL = "org.sandkasse.r"


def image_has_r(labels: dict[str, str] | None) -> bool:
    """The image's own word (set at build time by ``hub.images``) that R and the sdc package are in it."""
    return (labels or {}).get(R_LABEL) == "yes"


def _read(var: str, ds: ProjectDatasetInfo, data_mount: str) -> str:
    return f'{var} <- sdc_read_extract("{data_mount}/{data_file(ds)}")'


def _load_and_call(ex: Example, data_mount: str) -> tuple[str, str]:
    """The R code of ``ex`` (the example ``hub.welcome`` shows in Python): the code that builds a frame ``df``,
    and the checked call on it (``result <- ...`` with an ``sdc_`` wrapper and ``entity =``)."""
    if isinstance(ex, PersonYear):
        return (f"{_read('df', ex.ds, data_mount)}\nhead(df)",
                f'result <- sdc_table(df, rows = "{ex.area}", cols = "{ex.year}", values = "{ex.pct}", fun = "mean",\n'
                f'                    entity = "{ex.entity}")')
    if isinstance(ex, EpisodesStaff):
        e_id, s_id, area, contracted = ex.e_id, ex.s_id, ex.area, ex.contracted
        lost = f"episodes$days * episodes${ex.weight} / 100" if ex.weight else "episodes$days"
        load = (
            f"{_read('episodes', ex.episodes, data_mount)}\n{_read('staff', ex.staff, data_mount)}\n\n"
            "# Days lost per employee and year (weighted by the employment percentage, as Statistics Norway does)\n"
            f"episodes$year <- as.integer(substr(episodes${ex.start}, 1, 4))\n"
            f"episodes$lost_days <- {lost}\n"
            f"lost <- aggregate(lost_days ~ {e_id} + year, data = episodes, FUN = sum)\n\n"
            "# Every employee in every year, also those without sick leave (0 days lost)\n"
            f'people <- merge(staff[c("{s_id}", "{area}", "{contracted}")], '
            "data.frame(year = sort(unique(lost$year))),\n"
            "                by = NULL)\n"
            f'people <- merge(people, lost, by.x = c("{s_id}", "year"), by.y = c("{e_id}", "year"), all.x = TRUE)\n'
            "people$lost_days[is.na(people$lost_days)] <- 0\n"
            f"people$sick_leave_pct <- 100 * people$lost_days / people${contracted}\n"
            "df <- people\nhead(df)"
        )
        return (load,
                f'result <- sdc_table(df, rows = "{area}", cols = "year", values = "sick_leave_pct", fun = "mean",\n'
                f'                    entity = "{s_id}")')
    return (f"{_read('df', ex.ds, data_mount)}\nhead(df)",
            f'result <- sdc_crosstab(df, rows = "{ex.a}", cols = "{ex.b}", entity = "{ex.entity}")')


def _example_cells(datasets: list[ProjectDatasetInfo], data_mount: str, project: ProjectInfo) -> list[dict]:
    ex = choose_example(datasets)
    if ex is None:
        return [md_cell(
            "## Worked example\n\nThis project's data has no extract yet, or no column that groups people. The "
            "pattern:\n\n```r\nlibrary(sdc)\n"
            f'df <- sdc_read_extract("{data_mount}/FILE.parquet")\n'
            'result <- sdc_crosstab(df, rows = "GROUP", cols = "OTHER_GROUP", entity = "PERSON")\n'
            'request_export(list("people_by_group.csv" = result), context = "what the table shows",\n'
            '               controls = "how it was made safe")\n```'
        )]
    load, call = _load_and_call(ex, data_mount)
    return [
        md_cell(f"## Worked example in R\n\n{ex.intro}\n\nRun the cells from top to bottom (*Run > Run All Cells*). "
                "The table is made with an `sdc_` wrapper: it returns the table plus a verdict for every cell. "
                "`entity =` makes the rules count distinct people, not rows."),
        code_cell(f"library(sdc)\n\n{load}"),
        code_cell(f"{call}\nprint(result$summary)\nresult$table"),
        md_cell("The verdict per cell: the rule a cell fails, empty where it is safe."),
        code_cell("result$outcome"),
        md_cell("The protected version: failing cells blanked. This is what is exported "
                "(`sdc_export(result, protected = FALSE)` would write the raw table, for an exception you argue with "
                "the checkers)."),
        code_cell("result$protected"),
        md_cell("Send it to the output checkers under a name that says what it is. The file is quarantined at once; "
                "the automatic checks' verdicts are printed as they come in, and nothing leaves before two checkers "
                "approve."),
        code_cell(
            "export <- request_export(\n"
            f'  list("{ex.file_name}" = result),\n'
            f'  context = "{ex.context} (project {project.slug})",\n'
            f'  controls = "{ex.controls}",\n'
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
    cells.append(md_cell(
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
    return notebook_json(cells, "welcome-r", {"display_name": "R", "language": "R", "name": "ir"}, project)
