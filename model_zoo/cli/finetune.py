"""``model-zoo finetune DATA.zip --out DIR``: a new head (and optionally the backbone's top)
on a zip of class folders, then its export."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys

from model_zoo.cli.common import (
    Subparsers,
    UsageError,
    add_command,
    add_training_options,
    format_line,
    out_folder,
    read_zip,
    training,
    training_config,
)
from model_zoo.datasets import extract_dataset
from model_zoo.finetune.events import EpochLog
from model_zoo.finetune.formats import parse_formats
from model_zoo.finetune.settings import HEADS, TrainConfig
from model_zoo.registry import MODELS
from model_zoo.weights import weights_source


def register(sub: Subparsers) -> None:
    parser = add_command(sub, "finetune", run, help="train a new head on a zip of class folders")
    defaults = TrainConfig()  # one set of defaults for the CLI and the page
    parser.add_argument("data", metavar="DATA.zip")
    parser.add_argument("--backbone", default=defaults.backbone, help=", ".join(MODELS))
    parser.add_argument("--head", default=defaults.head, help=", ".join(HEADS))
    add_training_options(parser)
    parser.add_argument("--augment", action="store_true", help="random flip, rotation and zoom")
    parser.add_argument(
        "--unfreeze",
        type=int,
        default=defaults.unfreeze,
        metavar="N",
        help="then fine-tune the top N backbone layers at a tenth of the rate",
    )
    parser.add_argument("--fine-tune-epochs", type=int, default=defaults.fine_tune_epochs)
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="receives model.keras, labels.json, MODEL_CARD.md, metrics.json",
    )
    parser.add_argument(
        "--json-progress", action="store_true", help="print one JSON object per epoch on stdout"
    )
    parser.add_argument(
        "--export",
        default="keras",
        help="all, or a comma-separated list of keras, savedmodel, litert, onnx "
        "(each verified against the Keras model)",
    )


def _epoch_printer(json_lines: bool) -> object:
    stdout = sys.stdout  # bound now: training runs with stdout redirected (Keras' chatter)

    def on_epoch(log: EpochLog) -> None:
        if json_lines:
            line = json.dumps({**log.to_dict(), "seconds": round(log.seconds, 3)})
        else:
            line = (
                f"epoch {log.epoch:3d} {log.phase:<13} loss {log.loss:.4f} acc "
                f"{log.accuracy:.3f}  val_loss {log.val_loss:.4f} val_acc "
                f"{log.val_accuracy:.3f}  {log.seconds:.1f} s"
            )
        print(line, file=stdout, flush=True)

    return on_epoch


def run(args: argparse.Namespace) -> int:
    config = training_config(
        args,
        backbone=args.backbone.lower(),
        head=args.head,
        augment=args.augment,
        unfreeze=args.unfreeze,
        fine_tune_epochs=args.fine_tune_epochs,
    )
    try:
        source = weights_source(args.weights)
        formats = parse_formats(args.export)
    except ValueError as err:
        raise UsageError(str(err)) from None
    out = out_folder(args.out)
    data = read_zip(args.data)

    from model_zoo.artifact.export import write_export
    from model_zoo.finetune.settings import TrainingStopped
    from model_zoo.finetune.training import train

    on_epoch = _epoch_printer(args.json_progress)
    try:
        with training(args) as (stop, job):
            dataset = extract_dataset(data, job)
            result = train(dataset, config, source, stop=stop, on_epoch=on_epoch)  # type: ignore[arg-type]
    except TrainingStopped:
        print("stopped before the first epoch finished; nothing saved", file=sys.stderr)
        return 130
    with contextlib.redirect_stdout(io.StringIO()):
        written = write_export(result, out, args.threshold, formats)
    for report in written.reports:
        print(format_line(report), file=sys.stderr)
    ev = result.evaluation
    low, high = ev.interval
    print(
        f"{'stopped' if result.stopped else 'done'}: test_accuracy {ev.accuracy:.3f} "
        f"(95% {low:.2f}-{high:.2f}, {len(ev.labels)} images), val_loss {ev.val_loss:.4f} "
        f"(best epoch {result.best_epoch}); saved to {out}",
        file=sys.stderr,
    )
    for name, why in dataset.skipped:
        print(f"skipped {name}: {why}", file=sys.stderr)
    return 0
