"""``model-zoo predict MODEL IMAGE|DIR|ZIP...``: a fine-tuned export's answers as CSV."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from model_zoo.cli.common import (
    Subparsers,
    UsageError,
    add_command,
    output_path,
    photos,
    progress_bar,
    write_csv,
)
from model_zoo.datasets import DatasetError
from model_zoo.finetune.folders import new_job_folder


def register(sub: Subparsers) -> None:
    parser = add_command(
        sub,
        "predict",
        run,
        help="a fine-tuned export's answers for photos, folders or a zip, as CSV",
    )
    parser.add_argument("model", metavar="MODEL_DIR_OR_ZIP")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE|DIR|ZIP")
    parser.add_argument("--csv", metavar="OUT.csv", default=None, help="default: stdout")


def run(args: argparse.Namespace) -> int:
    from model_zoo.artifact.exported import load_export
    from model_zoo.artifact.labels import ExportError
    from model_zoo.predict import predict_photos, rows_csv

    source = Path(args.model)
    if not source.exists():
        raise UsageError(f"{source}: no such file or folder")
    if args.csv:
        output_path(args.csv, "--csv")
    given = photos(args.inputs)
    with new_job_folder() as job:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                exported = load_export(source, Path(job))
                rows = predict_photos(exported, given, on_progress=progress_bar())
        except (ExportError, DatasetError) as err:
            raise UsageError(str(err)) from None
    print(f"{len(rows)} photos through {source.name} on {exported.engine}", file=sys.stderr)
    write_csv(rows_csv(rows), args.csv, len(rows))
    return 0
