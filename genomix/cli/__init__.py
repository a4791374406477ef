"""The `genomix` command: one module per command group, each parsing options, calling a pipeline
(`genomix.pipelines`) and printing."""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import sys

import typer

from genomix.cli import concepts, demo, explain, features, models, sae, score
from genomix.errors import NO_SPACE, GenomixError, Interrupted, write_error

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


def _stop(signum, frame) -> None:
    raise Interrupted(signum)


def _stop_on_signals() -> None:
    """SIGINT and SIGTERM raise Interrupted, which writers pass through after removing their partial
    files (a signal ignored by the caller, as in a background job, stays ignored)."""
    for number in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, _stop)


def _fail(line: str, code: int) -> None:
    typer.echo(f"genomix: {line}", err=True)
    try:
        sys.stdout.flush()
    except OSError:  # stdout itself failed (a full disk): do not report it again at exit
        sys.stdout = open(os.devnull, "w")
    sys.exit(code)


def run() -> None:
    """Entry point: one clear line and a non-zero exit on bad input, a traceback only with --debug.
    Usage errors are Typer's own (exit 2); an interrupt exits 128 + the signal (130, 143)."""
    _stop_on_signals()
    try:
        app()
    except Interrupted as stop:
        _fail(f"interrupted by {stop}: {'; '.join(stop.left) or 'no output written'}", stop.exit_code)
    except GenomixError as error:
        if _state["debug"]:
            raise
        _fail(f"error: {_with_flags(error)}", 2)
    except Exception as error:  # noqa: BLE001 - the last line of defence
        fixable = None
        if isinstance(error, OSError) and error.errno in (*NO_SPACE, errno.EROFS):
            fixable = write_error(error, error.filename or "the output")
        if fixable is not None and not _state["debug"]:
            _fail(f"error: {fixable}", 2)
        if _state["debug"]:
            raise
        _fail(f"internal error: {type(error).__name__}: {error} (rerun with --debug for the traceback)", 1)
