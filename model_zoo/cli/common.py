"""What every command shares: the one-line usage error, reading inputs as untrusted,
checking outputs before any work, CSV out, and the training options, registered once from
``TrainConfig``."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from model_zoo.artifact.labels import DEFAULT_THRESHOLD
from model_zoo.datasets import DatasetError, DatasetLimits
from model_zoo.engine_choice import ENGINE_VAR, ENGINES, PRECISION_VAR, PRECISIONS
from model_zoo.finetune.folders import new_job_folder
from model_zoo.finetune.formats import FormatReport
from model_zoo.finetune.settings import TrainConfig
from model_zoo.images import DISPLAY_SIDE, MAX_BYTES, ImageError, load_image
from model_zoo.untrusted import UntrustedFileError, read_regular
from model_zoo.weights import ENV_VAR, MissingWeightsError

EXIT_BAD_INPUT = 2
WEIGHTS_HELP = f"imagenet, random or a folder of Keras .h5 files (default: ${ENV_VAR} or imagenet)"


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and ``--precision`` (``engine.engine_settings`` reads them)."""
    parser.add_argument(
        "--engine",
        default=None,
        choices=ENGINES,
        help=f"inference engine (default: ${ENGINE_VAR} or auto: OpenVINO, else TensorFlow)",
    )
    parser.add_argument(
        "--precision",
        default=None,
        choices=PRECISIONS,
        help=f"OpenVINO precision (default: ${PRECISION_VAR} or auto: bf16 where native)",
    )


class UsageError(Exception):
    """Bad input or setting: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage block
        raise UsageError(message)


Subparsers = Any  # argparse's private _SubParsersAction
Handler = Callable[[argparse.Namespace], int]


def add_command(sub: Subparsers, name: str, handler: Handler, **kwargs: Any) -> Parser:
    """A sub-command's parser, run by ``handler``."""
    parser: Parser = sub.add_parser(name, **kwargs)
    parser.set_defaults(handler=handler)
    return parser


@dataclass(frozen=True)
class Option:
    """A ``TrainConfig`` field as a command-line option."""

    field: str
    flag: str
    help: str | None = None
    metavar: str | None = None


# The training settings both training commands take, in ``TrainConfig``'s names; the
# defaults and types come from ``TrainConfig()`` itself.
TRAINING_OPTIONS = (
    Option("epochs", "--epochs"),
    Option("batch_size", "--batch-size"),
    Option("learning_rate", "--lr", "learning rate"),
    Option("val_split", "--val-split"),
    Option("test_split", "--test-split", "held out until training ends, then judged once"),
    Option("patience", "--patience"),
    Option("image_size", "--image-size", "input side (default: the backbone's own, 224 or 299)"),
    Option("seed", "--seed"),
)


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """The settings ``finetune`` and ``leaderboard`` share."""
    defaults = TrainConfig()
    for option in TRAINING_OPTIONS:
        default = getattr(defaults, option.field)
        parser.add_argument(
            option.flag, dest=option.field, type=type(default), default=default, help=option.help
        )
    parser.add_argument("--no-early-stopping", action="store_true")
    parser.add_argument(
        "--balance-classes",
        action="store_true",
        help="weigh each class's loss by the inverse of its size (Keras class_weight)",
    )
    parser.add_argument(
        "--split-copies",
        action="store_true",
        help="let exact and near copies of a photo fall in different split parts "
        "(by default they are kept in one)",
    )
    parser.add_argument("--weights", default=None, help=WEIGHTS_HELP)
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="answer 'not sure' below this calibrated confidence (0-1; in labels.json)",
    )


def training_config(args: argparse.Namespace, **extra: object) -> TrainConfig:
    """The settings both training commands share, checked (UsageError when bad)."""
    shared = {o.field: getattr(args, o.field) for o in TRAINING_OPTIONS}
    flags = {
        "early_stopping": not args.no_early_stopping,
        "class_weighted": args.balance_classes,
        "keep_copies_together": not args.split_copies,
    }
    config = TrainConfig(**{**shared, **flags, **extra})
    if not 0 <= args.threshold <= 1:
        raise UsageError(f"--threshold must be between 0 and 1, got {args.threshold}")
    try:
        return config.validated()
    except ValueError as err:
        raise UsageError(str(err)) from None


def read_images(paths: Sequence[str]) -> list:
    images = []
    for name in paths:
        try:
            data = read_regular(Path(name), MAX_BYTES)
        except UntrustedFileError as err:
            raise UsageError(str(err)) from None
        try:
            images.append(load_image(data, max_side=DISPLAY_SIDE))
        except ImageError as err:
            raise UsageError(f"{name}: {err}") from None
    return images


def photos(inputs: Sequence[str]) -> Iterator:
    from model_zoo.predict import gather_photos

    paths = [Path(p) for p in inputs]
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
    return gather_photos(paths)


def progress_bar() -> Callable[[int, int], None] | None:
    """A one-line progress count on a terminal's stderr (nothing when piped)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        print(f"\r{done} photos done", end="", file=sys.stderr, flush=True)

    return show


def write_csv(text: str, target: str | None, count: int) -> None:
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if target is None:
        print(text, end="")
        return
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as err:
        raise UsageError(f"{target}: cannot write the file ({err.strerror or err})") from None
    print(f"{count} rows written to {target}", file=sys.stderr)


def say_if_trimmed(flag: str, value: str) -> None:
    """Names are read trimmed and lower-cased; a list that needed it is said back."""
    read = ",".join(part.strip().lower() for part in value.split(","))
    if read != value:
        print(f"note: {flag} {value!r} read as {read!r}", file=sys.stderr)


def out_folder(value: str) -> Path:
    return output_path(value, "--out", folder=True)


def output_path(value: str, flag: str, *, folder: bool = False) -> Path:
    """An output the user named, checked before any work: a folder (made later, with its
    parents) or a file in an existing folder, somewhere this process may write."""
    out = Path(value)
    if out.is_dir() != folder and out.exists():
        kind = "is not a folder" if folder else "is a folder, not a file"
        raise UsageError(f"{flag} {out} {kind}")
    if out.exists():
        return out
    if folder:  # made later, with its parents
        anchor = next(p for p in out.parents if p.exists())
    elif not out.parent.exists():
        raise UsageError(f"{flag} {out}: the folder {out.parent} does not exist")
    else:
        anchor = out.parent
    if not anchor.is_dir():
        raise UsageError(f"{flag} {out}: {anchor} is not a folder")
    if not os.access(anchor, os.W_OK):
        raise UsageError(f"{flag} {out}: cannot write in {anchor}")
    return out


def read_zip(path: str) -> bytes:
    try:
        return read_regular(Path(path), DatasetLimits().max_zip_bytes)
    except UntrustedFileError as err:
        raise UsageError(str(err)) from None


@contextlib.contextmanager
def training(args: argparse.Namespace) -> Iterator[tuple[threading.Event, Path]]:
    """The first Ctrl-C sets the yielded stop event (training keeps its best so far); a job
    folder for the extracted zip, removed afterwards; bad data and missing weights become
    one-line usage errors."""
    stop = threading.Event()

    def on_interrupt(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        with new_job_folder() as job:
            try:
                with contextlib.redirect_stdout(sys.stderr):  # Keras download chatter
                    yield stop, Path(job)
            except DatasetError as err:
                raise UsageError(f"{args.data}: {err}") from None
            except MissingWeightsError as err:
                raise UsageError(str(err)) from None
    finally:
        signal.signal(signal.SIGINT, previous)


def format_line(report: FormatReport) -> str:
    """One format's verification, as a line on stderr."""
    if report.error:
        return f"{report.format}: skipped, {report.error}"
    return (
        f"{report.format}: {report.file} {report.size_mb:.1f} MB, top-1 agreement "
        f"{report.agreement:.1%} on {report.images} validation images, max difference "
        f"{report.max_difference:.1e}, {report.ms_per_image:.1f} ms/image"
    )
