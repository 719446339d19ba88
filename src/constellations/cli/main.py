"""Entry point: the ``constellations`` command tree.

Sub-commands live in their own modules and are imported only when used (each imports the library
it needs at its top), so that ``constellations --help`` and ``constellations verify`` do not pay for
importing the search, torch or Dask; ``constellations X --help`` pays for command X's imports.
Errors caused by bad input (click usage errors, unknown commands and every
ConstellationsError) become one line on stderr and exit status 2; no traceback is shown.
Ctrl-C (SIGINT) and SIGTERM (cluster schedulers, ``timeout``) stop a run the same way: the command
keeps or writes its best result so far, and the process exits 128 + the signal's number (130 or
143) with "constellations: interrupted" (:mod:`constellations.core.interrupts`).
"""
from __future__ import annotations

import importlib
import sys

import click

from constellations.core import interrupts
from constellations.core.errors import ConstellationsError

# click >= 8.2 raises this for a bare group invocation; older click prints the help itself.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())

# name -> (module, short help); the module exposes a click object named ``command``.
COMMANDS = {
    "construct": ("constellations.cli.construct", "Build a classic code or one of the paper's constructions."),
    "verify": ("constellations.cli.verify", "Verify a configuration: margin, b_rel, certified margin, retrieval."),
    "search": ("constellations.cli.search", "Search for maximal-margin constellations or spherical codes."),
    "bounds": ("constellations.cli.bounds", "Certified bounds on margins, dimensions and spherical codes."),
    "train": ("constellations.cli.train", "Train free embeddings with the sigmoid loss (batched over seeds)."),
    "reproduce": ("constellations.cli.reproduce", "Regenerate the paper's synthetic studies (N=100, d=10)."),
    "analyze": ("constellations.cli.analyze", "Analyse real paired embeddings: margins, modality gap, retrieval."),
    "table": ("constellations.cli.table", "Tabulate achievable margins against certified bounds (resumable)."),
    "init-bias": ("constellations.cli.init_bias", "The initial bias b0 that minimises the expected sigmoid loss."),
}


class LazyGroup(click.Group):
    """A click group that imports each sub-command's module on first use."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, _ = COMMANDS[name]
        return importlib.import_module(module).command

    def format_commands(self, ctx, formatter):
        # Short help from the table above, so `--help` imports nothing heavy.
        with formatter.section("Commands"):
            formatter.write_dl([(n, h) for n, (_, h) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="constellations", prog_name="constellations")
def cli():
    """constellations: margins, verification, search, bounds and training for
    (m, b_rel)-constellations and spherical codes.

    Margins are always reported as m, HALF the gap between the smallest matched and the
    largest non-matched inner product (the paper's tables print 2m).

    \b
    Examples:
      constellations construct e8 --dim 8 -o e8.npz
      constellations verify e8.npz --json
      constellations search --n 12 --dim 3 --tied
      constellations bounds --n 240 --dim 8
      constellations table --n 8,16 --dims 2:6 --modalities 2,3
    """


def main(argv=None) -> int:
    """Run the CLI; exits with 0/1 (or 3) from the command, 2 on bad input, 130 on SIGINT, 143 on SIGTERM."""
    interrupts.install()  # SIGTERM raises KeyboardInterrupt as SIGINT does, and both are recorded
    try:
        rv = cli.main(args=argv, prog_name="constellations", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
        if code == 130:  # a command that kept its partial result reports the signal that stopped it
            code = interrupts.exit_status()
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except _NO_ARGS_IS_HELP as exc:  # bare `constellations` (click >= 8.2): the help, as --help gives it
        click.echo(exc.ctx.get_help())
        code = 0
    except click.ClickException as exc:  # usage errors, unknown commands, bad parameters, missing files
        click.echo(f"constellations: error: {_one_line(exc.format_message())}", err=True)
        code = 2
    except ConstellationsError as exc:
        click.echo(f"constellations: error: {_one_line(str(exc))}", err=True)
        code = 2
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("constellations: interrupted", err=True)
        code = interrupts.exit_status()
    except MemoryError:  # sizes are checked before allocating; this is the backstop
        click.echo("constellations: error: out of memory; use smaller sizes", err=True)
        code = 2
    sys.exit(code)


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


if __name__ == "__main__":
    main()
