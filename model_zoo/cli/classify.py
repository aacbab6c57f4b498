"""``model-zoo classify IMAGE...``: each ImageNet model's top-k, as text or JSON, or one CSV
row per photo of files, folders and zips."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from typing import Any

from model_zoo.cli.common import (
    WEIGHTS_HELP,
    Subparsers,
    UsageError,
    add_command,
    add_engine_options,
    output_path,
    photos,
    progress_bar,
    read_images,
    say_if_trimmed,
    write_csv,
)
from model_zoo.datasets import DatasetError
from model_zoo.engine import EngineSettings, engine_settings
from model_zoo.images import RESIZE_MODES
from model_zoo.registry import MODELS, parse_model_list
from model_zoo.weights import MissingWeightsError, WeightsSource, weights_source

RANDOM_WARNING = "WARNING: random weights — these predictions are meaningless."


def _top(value: str) -> int:
    try:
        top = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--top must be an integer, got {value!r}") from None
    if not 1 <= top <= 1000:
        raise argparse.ArgumentTypeError(f"--top must be between 1 and 1000, got {top}")
    return top


def register(sub: Subparsers) -> None:
    parser = add_command(sub, "classify", run, help="top-k of each model for one or more images")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument(
        "--models", default="all", help=f"'all' or a comma-separated list of {', '.join(MODELS)}"
    )
    parser.add_argument("--top", type=_top, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--resize",
        choices=RESIZE_MODES,
        default="squash",
        help="squash the whole photo (Keras default) or centre-crop it",
    )
    parser.add_argument("--weights", default=None, help=WEIGHTS_HELP)
    add_engine_options(parser)
    parser.add_argument(
        "--csv",
        metavar="OUT.csv",
        default=None,
        help="write one row per photo (a model's top-1 per column, and the ensemble); "
        "IMAGE may then also be a folder or a zip",
    )


def _settings(args: argparse.Namespace) -> tuple[list[str], WeightsSource, EngineSettings]:
    try:
        names = parse_model_list(args.models)
        say_if_trimmed("--models", args.models)
        source = weights_source(args.weights)
        settings = engine_settings(args.engine, args.precision)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.csv:
        output_path(args.csv, "--csv")
    return names, source, settings


def _load(names: list[str], source: WeightsSource, settings: EngineSettings) -> list[Any]:
    from model_zoo.compare.inference import load_classifiers

    try:
        # Keras chats about downloads on stdout; keep stdout for results (--json stays
        # parseable) and stderr for one line per problem, with our own note on a terminal.
        with contextlib.redirect_stdout(io.StringIO()):
            for name in names:
                spec = MODELS[name]
                cached = source.local_file(spec)
                missing = cached is not None and not cached.is_file()
                if source.kind == "imagenet" and missing and sys.stderr.isatty():
                    assert cached is not None
                    print(
                        f"downloading {spec.display_name} weights ({spec.size_mb} MB) "
                        f"into {cached.parent} ...",
                        file=sys.stderr,
                    )
            return load_classifiers(names, source, settings)
    except MissingWeightsError as err:
        raise UsageError(str(err)) from None
    except RuntimeError as err:  # MODEL_ZOO_ENGINE=openvino where OpenVINO cannot run
        raise UsageError(str(err)) from None


def _to_csv(args: argparse.Namespace, classifiers: list[Any], source: WeightsSource) -> int:
    from model_zoo.predict import answers_csv, classify_photos

    given = photos(args.images)
    if source.is_random:
        print(RANDOM_WARNING, file=sys.stderr)
    try:
        rows = classify_photos(classifiers, given, on_progress=progress_bar())
    except DatasetError as err:
        raise UsageError(str(err)) from None
    write_csv(answers_csv(rows), args.csv, len(rows))
    return 0


def run(args: argparse.Namespace) -> int:
    names, source, settings = _settings(args)
    images = [] if args.csv else read_images(args.images)
    classifiers = _load(names, source, settings)
    if args.csv:
        return _to_csv(args, classifiers, source)

    from model_zoo.compare.inference import compare

    results = compare(classifiers, images, args.top, args.resize)
    if args.json:
        doc = {
            "weights": str(source),
            "engines": {c.name: c.engine_label for c in classifiers},
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
        print(RANDOM_WARNING, file=sys.stderr)
    for path, result in zip(args.images, results, strict=True):
        print(path)
        for pred in result.predictions:
            spec = MODELS[pred.model]
            best = ", ".join(f"{c.pretty} {c.score:.1%}" for c in pred.top)
            print(f"  {spec.display_name:<12} {pred.ms:7.0f} ms  {best}")
        label, votes = result.agreement.consensus
        print(f"  {'agreement':<12} {votes}/{len(result.predictions)} chose {label.pretty}")
    return 0
