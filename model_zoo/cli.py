"""Command line: ``python -m model_zoo classify IMAGE... [--models] [--top] [--json]``.

Exit status: 0 on success, 2 on bad input (unreadable image, unknown model, bad setting,
missing weights) with one line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from model_zoo.images import RESIZE_MODES, ImageError, load_image
from model_zoo.registry import MODELS, parse_model_list
from model_zoo.weights import ENV_VAR, MissingWeightsError, weights_source

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input or setting: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block
        raise UsageError(message)


def _top(value: str) -> int:
    try:
        top = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--top must be an integer, got {value!r}") from None
    if not 1 <= top <= 1000:
        raise argparse.ArgumentTypeError(f"--top must be between 1 and 1000, got {top}")
    return top


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m model_zoo", description="Compare the classic Keras ImageNet models."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    classify = sub.add_parser("classify", help="top-k of each model for one or more images")
    classify.add_argument("images", nargs="+", metavar="IMAGE")
    classify.add_argument(
        "--models", default="all", help=f"'all' or a comma-separated list of {', '.join(MODELS)}"
    )
    classify.add_argument("--top", type=_top, default=5)
    classify.add_argument("--json", action="store_true", help="print one JSON document")
    classify.add_argument(
        "--resize",
        choices=RESIZE_MODES,
        default="squash",
        help="squash the whole photo (Keras default) or centre-crop it",
    )
    classify.add_argument(
        "--weights",
        default=None,
        help=f"imagenet, random or a folder of Keras .h5 files (default: ${ENV_VAR} or imagenet)",
    )
    return parser


def _read_images(paths: Sequence[str]) -> list:
    images = []
    for name in paths:
        path = Path(name)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise UsageError(f"{name}: cannot read the file ({err.strerror or err})") from None
        try:
            images.append(load_image(data))
        except ImageError as err:
            raise UsageError(f"{name}: {err}") from None
    return images


def _classify(args: argparse.Namespace) -> int:
    try:
        names = parse_model_list(args.models)
        source = weights_source(args.weights)
    except ValueError as err:
        raise UsageError(str(err)) from None
    images = _read_images(args.images)

    from model_zoo.inference import compare, load_classifier  # TensorFlow starts here

    try:
        classifiers = []
        # Keras chats about downloads on stdout; keep stdout for results (--json stays
        # parseable) and stderr for one line per problem, with our own note on a terminal.
        with contextlib.redirect_stdout(io.StringIO()):
            for name in names:
                spec = MODELS[name]
                cached = source.local_file(spec)
                if (
                    source.kind == "imagenet"
                    and cached
                    and not cached.is_file()
                    and sys.stderr.isatty()
                ):
                    print(
                        f"downloading {spec.display_name} weights ({spec.size_mb} MB) into "
                        f"{cached.parent} ...",
                        file=sys.stderr,
                    )
                classifiers.append(load_classifier(name, source))
    except MissingWeightsError as err:
        raise UsageError(str(err)) from None
    results = compare(classifiers, images, args.top, args.resize)
    if args.json:
        doc = {
            "weights": str(source),
            "resize": args.resize,
            "images": [
                {
                    "image": path,
                    "models": [p.to_dict() for p in result.predictions],
                    "agreement": result.agreement.to_dict(),
                }
                for path, result in zip(args.images, results, strict=True)
            ],
        }
        print(json.dumps(doc, indent=2))
        return 0
    if source.is_random:
        print("WARNING: random weights — these predictions are meaningless.", file=sys.stderr)
    for path, result in zip(args.images, results, strict=True):
        print(path)
        for pred in result.predictions:
            spec = MODELS[pred.model]
            best = ", ".join(f"{c.pretty} {c.score:.1%}" for c in pred.top)
            print(f"  {spec.display_name:<12} {pred.ms:7.0f} ms  {best}")
        label, votes = result.agreement.consensus
        print(f"  {'agreement':<12} {votes}/{len(result.predictions)} chose {label.pretty}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI and returns its exit status."""
    try:
        args = build_parser().parse_args(argv)
        if args.command == "classify":
            return _classify(args)
        raise UsageError(f"unknown command {args.command!r}")
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
