"""Which worked example the welcome notebooks show, chosen once from the project's datasets and their
catalogue roles, whatever the language: the sick-leave percentage per service area and year when the data
allows it, else people per two grouping columns. ``hub.welcome`` (Python) and ``hub.welcome_r`` (R) write
the code for the same choice, so both notebooks export the same table under the same name."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from provisioning.api import ProjectDatasetInfo

_SICK_LEAVE_TITLE = "sick-leave percentage per service area and year"
_SICK_LEAVE_CONTEXT = "Mean sick-leave percentage of the employees per service area and year"
_SICK_LEAVE_CONTROLS = ("Mean over employees (entity-level); cells with too few employees or dominated by one or two "
                        "are suppressed")


def pick(columns: Iterable[str], *needles: str) -> str | None:
    """The first column whose name contains one of ``needles`` (in order of preference)."""
    cols = list(columns)
    for needle in needles:
        for col in cols:
            if needle in col.lower():
                return col
    return None


def data_file(ds: ProjectDatasetInfo) -> str | None:
    """The extract file an example reads: Parquet when there is one (it keeps the types), else CSV."""
    return next((f for f in ds.extract_files if f.endswith(".parquet")), None) or next(
        (f for f in ds.extract_files if f.endswith(".csv")), None)


def entity(ds: ProjectDatasetInfo) -> str | None:
    """The person's pseudonym: the catalogue's direct identifier, pseudonymised for this project."""
    for c in ds.columns:
        if c.role == "direct_identifier" and c.transformation == "pseudonymise":
            return c.name
    return pick([c.name for c in ds.columns], "pseudonym", "employee_id", "person_id")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@dataclass(frozen=True)
class PersonYear:
    """Sick-leave percentage already in the data, one row per person and year."""

    ds: ProjectDatasetInfo
    area: str
    year: str
    pct: str
    entity: str
    title = _SICK_LEAVE_TITLE
    context = _SICK_LEAVE_CONTEXT
    controls = _SICK_LEAVE_CONTROLS

    @property
    def intro(self) -> str:
        return f"`{self.ds.dataset}` has each employee's sick-leave percentage per year (`{self.pct}`)."

    @property
    def file_name(self) -> str:
        return f"sick_leave_pct_by_{slug(self.area)}_and_{slug(self.year)}.csv"


@dataclass(frozen=True)
class EpisodesStaff:
    """Sick-leave episodes (start date, days) and a staff register (contracted days): the percentage as
    Statistics Norway defines it, per employee and year, over every employee (with or without leave)."""

    episodes: ProjectDatasetInfo
    staff: ProjectDatasetInfo
    start: str
    weight: str | None  # the employment percentage, when the episodes have one
    area: str
    contracted: str
    e_id: str
    s_id: str
    title = _SICK_LEAVE_TITLE
    context = _SICK_LEAVE_CONTEXT
    controls = _SICK_LEAVE_CONTROLS

    @property
    def intro(self) -> str:
        return (f"Sick-leave percentage: days lost in `{self.episodes.dataset}` (weighted by the employment "
                f"percentage) as a share of each employee's contracted days in `{self.staff.dataset}`, per employee "
                "and year; then the mean per service area and year.")

    @property
    def file_name(self) -> str:
        return f"sick_leave_pct_by_{slug(self.area)}_and_year.csv"


@dataclass(frozen=True)
class ByRoles:
    """Any dataset: distinct people per two grouping columns. The catalogue says which columns group people
    (quasi-identifiers; generalised ones such as age bands first, they are coarse by design) and which one is
    the person (the pseudonymised direct identifier)."""

    ds: ProjectDatasetInfo
    entity: str
    a: str
    b: str
    controls = "Counts of distinct people (entity-level); cells under the threshold are suppressed"

    @property
    def title(self) -> str:
        return f"people per {self.a.replace('_', ' ')} and {self.b.replace('_', ' ')}"

    @property
    def intro(self) -> str:
        return (f"`{self.ds.dataset}`: how many distinct people (`{self.entity}`) there are per `{self.a}` "
                f"and `{self.b}`.")

    @property
    def file_name(self) -> str:
        return f"people_by_{slug(self.a)}_and_{slug(self.b)}.csv"

    @property
    def context(self) -> str:
        return f"Number of {self.title}"


Example = PersonYear | EpisodesStaff | ByRoles


def episodes_and_staff(datasets: list[ProjectDatasetInfo]) -> tuple[ProjectDatasetInfo, ProjectDatasetInfo] | None:
    """The sick-leave episodes (start date, days) and the staff register (contracted days) among the
    project's datasets, each with a data file and a person column."""
    episodes = staff = None
    for ds in datasets:
        names = [c.name for c in ds.columns]
        if data_file(ds) is None or entity(ds) is None:
            continue
        if episodes is None and pick(names, "days") == "days" and pick(names, "start_date", "from_date"):
            episodes = ds
        elif staff is None and pick(names, "contracted_days") and pick(names, "service_area", "tjenesteomr"):
            staff = ds
    return (episodes, staff) if episodes is not None and staff is not None else None


def _person_year(datasets: list[ProjectDatasetInfo]) -> PersonYear | None:
    for ds in datasets:
        names = [c.name for c in ds.columns]
        area, year = pick(names, "service_area", "tjenesteomr"), pick(names, "year", "aar", "år")
        pct, who = pick(names, "sick_leave_pct", "sickleave_pct", "sykefravaer_pct", "sick_pct"), entity(ds)
        if area and year and pct and who and data_file(ds):
            return PersonYear(ds, area, year, pct, who)
    return None


def _episodes_staff(datasets: list[ProjectDatasetInfo]) -> EpisodesStaff | None:
    if (found := episodes_and_staff(datasets)) is None:
        return None
    episodes, staff = found
    e_names, s_names = [c.name for c in episodes.columns], [c.name for c in staff.columns]
    return EpisodesStaff(
        episodes, staff,
        start=pick(e_names, "start_date", "from_date"),
        weight=pick(e_names, "employment_pct", "stillingspst"),
        area=pick(s_names, "service_area", "tjenesteomr"),
        contracted=pick(s_names, "contracted_days"),
        e_id=entity(episodes), s_id=entity(staff),
    )


def _by_roles(datasets: list[ProjectDatasetInfo]) -> ByRoles | None:
    for ds in datasets:
        who = entity(ds)
        if data_file(ds) is None or who is None:
            continue
        groups = [c for c in ds.columns if c.role == "quasi_identifier" and c.transformation != "pseudonymise"]
        groups.sort(key=lambda c: not c.transformation.startswith("generalise"))
        if len(groups) >= 2:
            return ByRoles(ds, who, groups[0].name, groups[1].name)
    return None


def choose_example(datasets: list[ProjectDatasetInfo]) -> Example | None:
    """The first worked example the data allows, in order of preference; None when there is none."""
    return _person_year(datasets) or _episodes_staff(datasets) or _by_roles(datasets)
