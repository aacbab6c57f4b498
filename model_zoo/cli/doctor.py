"""``model-zoo doctor DATA.zip``: duplicates, split leakage, likely label errors and
quality lint, before training; ``--clean OUT.zip`` writes the dataset with the copies
merged (and, with ``--drop-suspected``, the doubted labels left out)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from model_zoo.cli.common import (
    WEIGHTS_HELP,
    Subparsers,
    UsageError,
    add_command,
    output_path,
    read_zip,
    training,
)
from model_zoo.datasets import Dataset, extract_dataset
from model_zoo.finetune.settings import TrainConfig
from model_zoo.registry import MODELS
from model_zoo.weights import weights_source

REPORT_LINES = 10  # per finding, in the short report


def register(sub: Subparsers) -> None:
    parser = add_command(
        sub, "doctor", run, help="find duplicates, leaks, label errors and bad photos in a zip"
    )
    defaults = TrainConfig()  # the same split and backbone as finetune's defaults
    parser.add_argument("data", metavar="DATA.zip")
    parser.add_argument("--backbone", default=defaults.backbone, help=", ".join(MODELS))
    parser.add_argument("--val-split", type=float, default=defaults.val_split)
    parser.add_argument("--test-split", type=float, default=defaults.test_split)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--weights", default=None, help=WEIGHTS_HELP)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--clean", metavar="OUT.zip", help="write the dataset, copies merged")
    parser.add_argument(
        "--drop-suspected", action="store_true", help="with --clean: leave out doubted labels"
    )


def _short_report(found: dict[str, Any], accuracy: float | None) -> str:
    lines = [f"duplicates: {len(found['duplicates'])} group(s)"]
    lines += [f"  {' = '.join(g)}" for g in found["duplicates"][:REPORT_LINES]]
    lines.append(f"leaks across the split: {len(found['leaks'])} group(s)")
    lines += [
        f"  {', '.join(f'{f} ({s})' for f, s in zip(x['files'], x['splits'], strict=True))}"
        for x in found["leaks"][:REPORT_LINES]
    ]
    judged = f" (out-of-fold accuracy {accuracy:.0%})" if accuracy is not None else ""
    lines.append(f"likely label errors: {len(found['label_issues'])}{judged}")
    lines += [
        f"  {x['file']}: labelled {x['given']!r}, looks like {x['suggested']!r} ({x['score']:.2f})"
        for x in found["label_issues"][:REPORT_LINES]
    ]
    lines.append(f"quality: {len(found['lint'])} photo(s)")
    lines += [f"  {x['file']}: {x['issue']}" for x in found["lint"][:REPORT_LINES]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.backbone.lower() not in MODELS:
        raise UsageError(f"Unknown model {args.backbone!r}. Expected one of {sorted(MODELS)}.")
    if args.drop_suspected and not args.clean:
        raise UsageError("--drop-suspected needs --clean OUT.zip")
    config = TrainConfig(
        backbone=args.backbone.lower(),
        val_split=args.val_split,
        test_split=args.test_split,
        seed=args.seed,
    )
    try:
        config.validated()
        source = weights_source(args.weights)
    except ValueError as err:
        raise UsageError(str(err)) from None
    clean = output_path(args.clean, "--clean") if args.clean else None
    data = read_zip(args.data)

    from model_zoo.doctor.clean import copies_to_drop, dataset_zip, suspected
    from model_zoo.doctor.features import check_dataset

    with training(args) as (stop, job):
        dataset: Dataset = extract_dataset(data, job)
        findings = check_dataset(dataset, config, source, stop)
        found = findings.report(dataset)
        if clean is not None:
            drop = copies_to_drop(findings) | (
                suspected(findings) if args.drop_suspected else set()
            )
            clean.write_bytes(dataset_zip(dataset, drop))
    if args.json:
        print(json.dumps(found, ensure_ascii=False))
    else:
        print(_short_report(found, findings.accuracy))
    if clean is not None:
        print(
            f"wrote {clean}: {dataset.size - len(drop)} of {dataset.size} photos", file=sys.stderr
        )
    return 0
