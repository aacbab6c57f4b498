"""``model-zoo leaderboard DATA.zip --out DIR``: every backbone × head, ranked on one test
split; the CSV and the best model's export."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import sys
from typing import Any

from model_zoo.cli.common import (
    Subparsers,
    UsageError,
    add_command,
    add_training_options,
    out_folder,
    read_zip,
    say_if_trimmed,
    training,
    training_config,
)
from model_zoo.datasets import extract_dataset
from model_zoo.finetune.settings import HEADS
from model_zoo.registry import MODELS, get_spec
from model_zoo.weights import weights_source


def register(sub: Subparsers) -> None:
    parser = add_command(
        sub,
        "leaderboard",
        run,
        help="every backbone x head on a zip of class folders, ranked on a test split",
    )
    parser.add_argument("data", metavar="DATA.zip")
    parser.add_argument(
        "--backbones", default="all", help=f"all, or a comma-separated list of {', '.join(MODELS)}"
    )
    parser.add_argument(
        "--heads", default="all", help=f"all, or a comma-separated list of {', '.join(HEADS)}"
    )
    add_training_options(parser)
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="receives leaderboard.csv and the best model's export",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _grid(args: argparse.Namespace) -> tuple[list[str], list[str], Any]:
    from model_zoo.finetune.leaderboard import parse_choice

    try:
        backbones = parse_choice(args.backbones, list(MODELS), "backbone")
        heads = parse_choice(args.heads, list(HEADS), "head")
        say_if_trimmed("--backbones", args.backbones)
        say_if_trimmed("--heads", args.heads)
    except ValueError as err:
        raise UsageError(str(err)) from None
    # The size is capped at each backbone's own; it must reach every backbone's minimum.
    config = dataclasses.replace(training_config(args, image_size=0), image_size=args.image_size)
    for name in backbones:
        spec = get_spec(name)
        if args.image_size and not spec.min_input_size <= args.image_size <= 299:
            raise UsageError(
                f"--image-size for {spec.display_name} must be {spec.min_input_size}..299 "
                f"(it is capped at the backbone's own size); got {args.image_size}"
            )
    return backbones, heads, config


def run(args: argparse.Namespace) -> int:
    from model_zoo.finetune.leaderboard import CSV_FILE, Row, ranked, to_csv

    backbones, heads, config = _grid(args)
    try:
        source = weights_source(args.weights)
    except ValueError as err:
        raise UsageError(str(err)) from None
    out = out_folder(args.out)
    data = read_zip(args.data)

    from model_zoo.artifact.export import write_export
    from model_zoo.finetune.grid import train_grid
    from model_zoo.finetune.settings import TrainingStopped

    best: dict[str, Any] = {}

    def on_row(row: Row, result: object) -> None:
        print(
            f"{row.label}: test_accuracy {row.test_accuracy:.3f} "
            f"({row.test_interval[0]:.2f}-{row.test_interval[1]:.2f}), val_loss "
            f"{row.val_loss:.4f}, {row.ms_per_image:.0f} ms/image",
            file=sys.stderr,
            flush=True,
        )
        if "row" not in best or ranked([best["row"], row])[0] is row:
            best.update(row=row, result=result)  # only the best model is kept in memory

    try:
        with training(args) as (stop, job):
            dataset = extract_dataset(data, job)
            rows = train_grid(dataset, backbones, heads, config, source, stop=stop, on_row=on_row)
    except TrainingStopped:
        print("stopped before the first combination finished; nothing saved", file=sys.stderr)
        return 130
    except ValueError as err:
        raise UsageError(str(err)) from None
    out.mkdir(parents=True, exist_ok=True)
    (out / CSV_FILE).write_text(to_csv(rows), encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()):
        write_export(best["result"], out, args.threshold)
    winner = rows[0]
    if args.json:
        sizes = best["result"].evaluation.split_sizes
        doc = {
            "rows": [r.to_dict() for r in rows],
            "best": {"backbone": winner.backbone, "head": winner.head},
            "split": dict(zip(("train", "validation", "test"), sizes, strict=True)),
            "weights": str(source),
            "out": str(out),
        }
        print(json.dumps(doc, indent=2))
    else:
        print(to_csv(rows), end="")
    print(f"best: {winner.label}; saved {CSV_FILE} and its model to {out}", file=sys.stderr)
    for name, why in dataset.skipped:
        print(f"skipped {name}: {why}", file=sys.stderr)
    return 0
