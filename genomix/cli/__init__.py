"""The `genomix` command: one module per command group, each parsing options, calling a pipeline
(`genomix.pipelines`) and printing."""

from __future__ import annotations

import logging
import re
import sys

import typer

from genomix.cli import concepts, demo, explain, features, models, sae, score
from genomix.errors import GenomixError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Variant hypotheses from DNA foundation models.")
app.command()(score.score)
app.command()(explain.explain)
app.add_typer(models.app, name="models")
app.add_typer(concepts.app, name="concepts")
app.add_typer(demo.app, name="demo")
app.add_typer(sae.app, name="sae")
app.add_typer(features.app, name="features")

_state = {"debug": False}
log = logging.getLogger("genomix")


def _version(value: bool) -> None:
    if value:
        import genomix

        typer.echo(f"genomix {genomix.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _state["debug"] = debug
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("genomix: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _with_flags(error: GenomixError) -> str:
    """The message with the option it advises written as the flag (`ref_check="warn"` -> `--ref-check
    warn`), or the flag named after it."""
    message = str(error)
    if not error.option:
        return message
    flag = "--" + error.option.replace("_", "-")
    advised = re.compile(rf'\b{error.option}=("([^"]*)"|(\S+?))(?=[\s,;)]|\.?$|\.\s)')
    if advised.search(message):
        return advised.sub(
            lambda m: flag if m.group(0).endswith("=True") else f"{flag} {m.group(2) or m.group(3)}", message
        )
    return f"{message} ({flag})"


def run() -> None:
    """Entry point: one clear line and a non-zero exit on bad input, a traceback only with --debug."""
    try:
        app(standalone_mode=False)
    except GenomixError as error:
        if _state["debug"]:
            raise
        typer.echo(f"genomix: error: {_with_flags(error)}", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("genomix: aborted", err=True)
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except Exception as error:  # noqa: BLE001 - the last line of defence
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        if _state["debug"]:
            raise
        typer.echo(
            f"genomix: internal error: {type(error).__name__}: {error} (rerun with --debug for the traceback)", err=True
        )
        sys.exit(1)
