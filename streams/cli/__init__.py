"""The ``newsstream`` command line. Run ``newsstream --help`` for the commands."""

from __future__ import annotations

import logging
import sys

import click

from streams import __version__
from streams.cli._context import Context
from streams.errors import NewsstreamError
from streams.logs import setup_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="newsstream")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="NEWSSTREAM_CONFIG",
    help="YAML settings file (keys as in `newsstream config show`).",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, verbose: bool) -> None:
    """newsstream: crawl, clean, deduplicate, classify and route news over Kafka.

    With no broker or DSN configured, everything runs on the project's own local Kafka and
    embedded PostgreSQL: `newsstream run --demo` shows the whole flow offline.
    """
    ctx.obj = Context(config_file)
    settings = ctx.obj.settings
    level = logging.DEBUG if verbose else settings.log_level
    setup_logging(level, settings.log_format, quiet_libraries=not verbose)


def _register() -> None:
    from streams.cli import (
        articles,
        classify_tools,
        consume,
        crawl_tools,
        process,
        services,
        sources,
        stories,
        text_tools,
        tools,
    )

    for module in (
        services,
        process,
        consume,
        tools,
        crawl_tools,
        sources,
        text_tools,
        articles,
        classify_tools,
        stories,
    ):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except NewsstreamError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
