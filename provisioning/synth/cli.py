"""``sandkasse synth``: write the synthetic data set and say what is in it."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from provisioning.synth.generate import generate, write

# CSV copies of more rows than this are skipped: Parquet is what extracts read, CSV is for eyeballing.
CSV_ROW_LIMIT = 2_000_000


def synth_command(out: str, employees: int, seed: int, years: int = 1, first_year: int = 2025) -> dict[str, Path]:
    console = Console()
    with console.status(f"generating {employees:,} employees over {years} year(s) (seed {seed})"):
        data = generate(employees=employees, seed=seed, years=years, first_year=first_year)
    formats = ("parquet", "csv") if len(data.sick_leave) <= CSV_ROW_LIMIT else ("parquet",)
    with console.status(f"writing {', '.join(formats)} to {out}"):
        paths = write(data, Path(out), formats)
    units = data.units
    console.print(
        f"[bold]{len(data.staff):,}[/] employees in {units.council_area.nunique()} council areas, "
        f"{units.service_area.nunique()} service areas, {len(units)} units "
        f"({int((units.employees.between(1, 4)).sum())} with fewer than 5 employees); "
        f"[bold]{len(data.sick_leave):,}[/] sick-leave episodes; municipal sick-leave rate "
        f"[bold]{data.sick_leave_rate():.1%}[/]"
    )
    for name, path in paths.items():
        console.print(f"  {name}: {path}")
    return paths
