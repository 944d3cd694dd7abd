"""Command line: parses arguments, calls the API, prints. No computation lives here.

Errors a user can cause are :class:`hf_interaction.errors.UserError`; they are printed as one line
on stderr with the documented exit code (see errors.py / README). ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from .errors import UserError
from .version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="hf-interaction")
@click.option("--debug", is_flag=True, help="Show full tracebacks and library logs on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Is this model's depth-width shape wasting its parameters?

    Reads a model's depth-width ratio R_D/W, measures gradient-space neural interaction (AOFE,
    AOFE-ratio), evaluates MMLU-Pro and relates a model's position relative to the efficient
    R_D/W interval to its score.
    """
    ctx.ensure_object(dict)
    if not debug:
        _quiet_libraries()


def _quiet_libraries() -> None:
    """Library warnings and weight-loading bars are noise in a CLI; --debug keeps them."""
    logging.getLogger("transformers").setLevel(logging.ERROR)
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # datasets logs a failed file read itself (and its json loader's message fails to format, printing
    # a "--- Logging error ---" traceback); the CLI reports the failure in its own one line.
    os.environ.setdefault("DATASETS_VERBOSITY", "critical")
    logging.getLogger("datasets").setLevel(logging.CRITICAL)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers is a dependency
        pass


def _register() -> None:
    from .commands import store_cmds

    cli.add_command(store_cmds.ls_command)
    cli.add_command(store_cmds.export_command)
    for name in ("shape", "audit", "eval", "report", "compare", "sweep", "suggest"):
        try:
            module = __import__(f"hf_interaction.commands.{name}", fromlist=["command"])
        except ModuleNotFoundError as exc:
            if exc.name != f"hf_interaction.commands.{name}":
                raise
            continue
        cli.add_command(module.command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn user errors into one line and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="hf-interaction", standalone_mode=False)
    except UserError as exc:
        if debug:
            raise
        click.echo(f"error: {exc.one_line()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last resort: one line unless --debug
        if debug:
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
                   err=True)
        sys.exit(1)
    finally:
        _close_process_group()


def _close_process_group() -> None:
    """Shut down a torch.distributed process group (``accelerate launch``) before the interpreter
    exits: left open, its communication threads were seen to abort one rank at exit (SIGABRT,
    "terminate called without an active exception") after the results were written."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return
    try:
        dist.destroy_process_group()
    except Exception:  # noqa: BLE001 - shutting down; the results are already written
        pass
