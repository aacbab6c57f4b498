"""Command line: ``classify IMAGE...``, ``explain IMAGE --model M --out PNG``,
``predict MODEL IMAGE...``, ``doctor DATA.zip``, ``finetune DATA.zip --out DIR`` and
``leaderboard DATA.zip --out DIR``: one module per command, each a ``register`` for its
options over a ``run`` callable from Python with the parsed arguments.

Exit status: 0 on success, 2 on bad input (unreadable image or zip, unknown model, bad
setting, missing weights) with one line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from model_zoo.cli import classify, doctor, explain, finetune, leaderboard, predict
from model_zoo.cli.common import EXIT_BAD_INPUT, Parser, UsageError
from model_zoo.runtime import only_our_own_stderr

COMMANDS = (classify, predict, explain, doctor, finetune, leaderboard)  # the order of --help


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="model-zoo", description="Compare the classic Keras ImageNet models.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI and returns its exit status."""
    try:
        # Python's own messages still reach stderr; native libraries' start-up lines and
        # decoder warnings (which vary by CPU and file) do not.
        with only_our_own_stderr():
            args = build_parser().parse_args(argv)
            return int(args.handler(args))
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """The ``model-zoo`` console script."""
    sys.exit(main())


__all__ = ["EXIT_BAD_INPUT", "UsageError", "build_parser", "main", "run"]
