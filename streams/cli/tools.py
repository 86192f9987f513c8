"""Developer and operator tools: `schemas`."""

from __future__ import annotations

from pathlib import Path

import click

from streams.cli._context import Context

pass_ctx = click.make_pass_decorator(Context)
REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@click.group()
def schemas() -> None:
    """JSON Schemas of the records and the AsyncAPI document of the topics."""


@schemas.command("export")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=REPO_SCHEMAS,
    show_default=True,
)
@click.option("--check", is_flag=True, help="Exit 1 if the files differ instead of writing.")
@pass_ctx
def schemas_export(ctx: Context, directory: Path, check: bool) -> None:
    """Write schemas/*.json and schemas/asyncapi.yaml from the code (or check them)."""
    from streams.schemas import render, stale_files

    if check:
        stale = stale_files(directory, ctx.topology)
        if stale:
            raise click.ClickException(
                f"out of date: {', '.join(stale)}; run `newsstream schemas export`"
            )
        click.echo("schemas up to date")
        return
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in render(ctx.topology).items():
        (directory / name).write_bytes(data)
        click.echo(f"wrote {directory / name}")


COMMANDS = [schemas]
