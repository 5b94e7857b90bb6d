"""``sandkasse``: the operator's command line. Each command lives in the module that does the work;
this file only wires them up (imports are lazy so one broken part does not take down the others)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Sandkasse trusted research environment", no_args_is_help=True)
audit_app = typer.Typer(help="Tamper-evident audit log", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
publication_app = typer.Typer(help="Open-data tables: check and publish against the publication register", no_args_is_help=True)
app.add_typer(publication_app, name="publication")
_POPULATION = typer.Option(..., help='The population the counts describe, e.g. "Oslo residents 1 January 2026"; '
                           "only tables of the same population are compared")


@app.command()
def doctor() -> None:
    """Check every component (Docker engine, images, Keycloak, database, sandbox firewall) and say how to fix what is missing."""
    from sandkasse.doctor import run_doctor

    raise typer.Exit(run_doctor())


@app.command()
def synth(
    out: str = typer.Option("var/data/sick-leave", help="Output folder"),
    employees: int = typer.Option(15000, help="Number of employees"),
    seed: int = typer.Option(2026, help="Random seed (same seed, same data)"),
    years: int = typer.Option(1, help="Years of sick-leave episodes (about 2.8 episodes per employee and year)"),
) -> None:
    """Generate the synthetic sick-leave data set (no real personal data)."""
    from provisioning.synth.cli import synth_command

    synth_command(out=out, employees=employees, seed=seed, years=years)


@audit_app.command("verify")
def audit_verify() -> None:
    """Verify the audit hash chains and their sealed heads; exit 1 and say where one is broken."""
    from sandkasse.audit_verify import verify_all

    raise typer.Exit(verify_all())


@app.command("verify-release")
def verify_release(manifest: str, files: list[str]) -> None:
    """Verify a release manifest's signature and the SHA-256 of each released file."""
    from egress_review.release.verify_cli import verify_release_command

    raise typer.Exit(verify_release_command(manifest, files))


@app.command("release-ro-crate")
def release_ro_crate(release_id: str, out: str) -> None:
    """Write a release's provenance (request, checks, votes, manifest, files) as a Five Safes RO-Crate zip."""
    from egress_review.records.ro_crate import export_command

    raise typer.Exit(export_command(release_id, out))


@app.command()
def init(env_file: str = typer.Option(".env", help="Where to write the generated secrets")) -> None:
    """Generate a .env with strong random secrets (mode 600) for docker-compose."""
    from sandkasse.init_env import write_env

    raise typer.Exit(write_env(env_file))


@app.command()
def compose(
    action: str = typer.Argument(..., help="build | up | down | ps | logs"),
    project: str = typer.Option("sandkasse", "--project", "-p", help="docker-compose project name"),
    env_file: str = typer.Option(".env", help="The .env written by `sandkasse init`"),
    volumes: bool = typer.Option(False, "--volumes", help="down: also remove the volumes (all data!)"),
) -> None:
    """The production stack (docker-compose.yml): build every image locally, then run docker-compose."""
    from sandkasse.stack.compose import main

    raise typer.Exit(main([action, "-p", project, "--env-file", env_file, *(["--volumes"] if volumes else [])]))


@publication_app.command("check")
def publication_check(
    file: str = typer.Argument(..., help="CSV in long form: one column per dimension and a count column (true counts)"),
    population: str = _POPULATION,
    name: str = typer.Option(None, help="Name the table would be published under (default: the file name)"),
    count: str = typer.Option("count", help="The count column"),
    out: str = typer.Option(None, help="Write the publishable table here instead of printing it"),
) -> None:
    """Print the publishable table (publication profile of policies/disclosure.yaml) and its disclosure report,
    with differencing against every table already published; changes nothing. Exit 1 when not publishable."""
    from egress_review.publishing.cli import check_command

    raise typer.Exit(check_command(file, name=name, population=population, count=count, out=out))


@publication_app.command("publish")
def publication_publish(
    file: str = typer.Argument(..., help="CSV in long form: one column per dimension and a count column (true counts)"),
    population: str = _POPULATION,
    by: str = typer.Option(..., help="Who publishes (user name, audited)"),
    name: str = typer.Option(None, help="Name to publish under (default: the file name); must be new"),
    project: str = typer.Option("", help="Project or unit the table comes from"),
    count: str = typer.Option("count", help="The count column"),
    out: str = typer.Option(None, help="Write the published table here instead of printing it"),
    new_population: bool = typer.Option(False, "--new-population",
                                        help="The population is new to the register (its tables are compared with none of the others')"),
) -> None:
    """Check the table again against the register and register it; refuses (registers nothing) when the check fails."""
    from egress_review.publishing.cli import publish_command

    raise typer.Exit(publish_command(file, name=name, population=population, by=by, project=project, count=count, out=out,
                                     new_population=new_population))


if __name__ == "__main__":
    app()
