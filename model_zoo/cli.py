"""Command line: ``classify IMAGE...``, ``explain IMAGE --model M --out PNG``,
``finetune DATA.zip --out DIR`` and ``leaderboard DATA.zip --out DIR``.

Exit status: 0 on success, 2 on bad input (unreadable image or zip, unknown model, bad
setting, missing weights) with one line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from PIL import Image

from model_zoo.datasets import DatasetError, DatasetLimits, extract_dataset
from model_zoo.engine import (
    ENGINE_VAR,
    ENGINES,
    PRECISION_VAR,
    PRECISIONS,
    EngineSettings,
    engine_settings,
)
from model_zoo.explain import DEFAULT_OPACITY
from model_zoo.finetune.events import EpochLog
from model_zoo.finetune.export import DEFAULT_THRESHOLD
from model_zoo.finetune.formats import parse_formats
from model_zoo.finetune.jobs import new_job_folder
from model_zoo.finetune.settings import HEADS, TrainConfig
from model_zoo.images import DISPLAY_SIDE, MAX_BYTES, RESIZE_MODES, ImageError, load_image
from model_zoo.labels import class_index as class_index_of
from model_zoo.labels import pretty_label
from model_zoo.registry import MODELS, get_spec, parse_model_list
from model_zoo.runtime import only_our_own_stderr
from model_zoo.untrusted import UntrustedFileError, read_regular
from model_zoo.weights import ENV_VAR, MissingWeightsError, weights_source

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input or setting: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage block
        raise UsageError(message)


def _top(value: str) -> int:
    try:
        top = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--top must be an integer, got {value!r}") from None
    if not 1 <= top <= 1000:
        raise argparse.ArgumentTypeError(f"--top must be between 1 and 1000, got {top}")
    return top


def _shared_training_args(
    parser: argparse.ArgumentParser, defaults: TrainConfig, weights_help: str
) -> None:
    """The settings ``finetune`` and ``leaderboard`` share."""
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate, help="learning rate")
    parser.add_argument("--val-split", type=float, default=defaults.val_split)
    parser.add_argument(
        "--test-split",
        type=float,
        default=defaults.test_split,
        help="held out until training ends, then judged once",
    )
    parser.add_argument("--no-early-stopping", action="store_true")
    parser.add_argument("--patience", type=int, default=defaults.patience)
    parser.add_argument(
        "--image-size",
        type=int,
        default=defaults.image_size,
        help="input side (default: the backbone's own, 224 or 299)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--weights", default=None, help=weights_help)
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="answer 'not sure' below this calibrated confidence (0-1; in labels.json)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="model-zoo", description="Compare the classic Keras ImageNet models.")
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
    weights_help = (
        f"imagenet, random or a folder of Keras .h5 files (default: ${ENV_VAR} or imagenet)"
    )
    classify.add_argument("--weights", default=None, help=weights_help)
    classify.add_argument(
        "--engine",
        default=None,
        choices=ENGINES,
        help=f"inference engine (default: ${ENGINE_VAR} or auto: OpenVINO, else TensorFlow)",
    )
    classify.add_argument(
        "--precision",
        default=None,
        choices=PRECISIONS,
        help=f"OpenVINO precision (default: ${PRECISION_VAR} or auto: bf16 where native)",
    )

    classify.add_argument(
        "--csv",
        metavar="OUT.csv",
        default=None,
        help="write one row per photo (a model's top-1 per column, and the ensemble); "
        "IMAGE may then also be a folder or a zip",
    )
    predict = sub.add_parser(
        "predict", help="a fine-tuned export's answers for photos, folders or a zip, as CSV"
    )
    predict.add_argument("model", metavar="MODEL_DIR_OR_ZIP")
    predict.add_argument("inputs", nargs="+", metavar="IMAGE|DIR|ZIP")
    predict.add_argument("--csv", metavar="OUT.csv", default=None, help="default: stdout")

    explain = sub.add_parser("explain", help="Grad-CAM heatmap over the photo, as a PNG")
    explain.add_argument("image", metavar="IMAGE")
    explain.add_argument("--model", required=True, help=", ".join(MODELS))
    explain.add_argument(
        "--class",
        dest="class_",
        default=None,
        metavar="LABEL|INDEX",
        help="ImageNet class to explain, e.g. tabby or 281 (default: top-1)",
    )
    explain.add_argument("--out", required=True, metavar="PNG")
    explain.add_argument("--opacity", type=float, default=DEFAULT_OPACITY)
    explain.add_argument("--resize", choices=RESIZE_MODES, default="squash")
    explain.add_argument("--weights", default=None, help=weights_help)

    tune = sub.add_parser("finetune", help="train a new head on a zip of class folders")
    defaults = TrainConfig()  # one set of defaults for the CLI and the page
    tune.add_argument("data", metavar="DATA.zip")
    tune.add_argument("--backbone", default=defaults.backbone, help=", ".join(MODELS))
    tune.add_argument("--head", default=defaults.head, help=", ".join(HEADS))
    _shared_training_args(tune, defaults, weights_help)
    tune.add_argument("--augment", action="store_true", help="random flip, rotation and zoom")
    tune.add_argument(
        "--unfreeze",
        type=int,
        default=defaults.unfreeze,
        metavar="N",
        help="then fine-tune the top N backbone layers at a tenth of the rate",
    )
    tune.add_argument("--fine-tune-epochs", type=int, default=defaults.fine_tune_epochs)
    tune.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="receives model.keras, labels.json, MODEL_CARD.md, metrics.json",
    )
    tune.add_argument(
        "--json-progress", action="store_true", help="print one JSON object per epoch on stdout"
    )
    tune.add_argument(
        "--export",
        default="keras",
        help="all, or a comma-separated list of keras, savedmodel, litert, onnx "
        "(each verified against the Keras model)",
    )

    board = sub.add_parser(
        "leaderboard",
        help="every backbone x head on a zip of class folders, ranked on a test split",
    )
    board.add_argument("data", metavar="DATA.zip")
    board.add_argument(
        "--backbones", default="all", help=f"all, or a comma-separated list of {', '.join(MODELS)}"
    )
    board.add_argument(
        "--heads", default="all", help=f"all, or a comma-separated list of {', '.join(HEADS)}"
    )
    _shared_training_args(board, defaults, weights_help)
    board.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="receives leaderboard.csv and the best model's export",
    )
    board.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _read_images(paths: Sequence[str]) -> list:
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


def _photos(inputs: Sequence[str]) -> Iterator:
    from model_zoo.predict import gather_photos

    paths = [Path(p) for p in inputs]
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
    return gather_photos(paths)


def _progress_bar() -> Callable[[int, int], None] | None:
    """A one-line progress count on a terminal's stderr (nothing when piped)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        print(f"\r{done} photos done", end="", file=sys.stderr, flush=True)

    return show


def _write_csv(text: str, target: str | None, count: int) -> None:
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


def _predict(args: argparse.Namespace) -> int:
    from model_zoo.predict import ExportError, load_export, predict_photos, rows_csv

    source = Path(args.model)
    if not source.exists():
        raise UsageError(f"{source}: no such file or folder")
    if args.csv:
        _output_path(args.csv, "--csv")
    photos = _photos(args.inputs)
    with new_job_folder() as job:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                exported = load_export(source, Path(job))
                rows = predict_photos(exported, photos, on_progress=_progress_bar())
        except (ExportError, DatasetError) as err:
            raise UsageError(str(err)) from None
    print(f"{len(rows)} photos through {source.name} on {exported.engine}", file=sys.stderr)
    _write_csv(rows_csv(rows), args.csv, len(rows))
    return 0


def _classify(args: argparse.Namespace) -> int:
    try:
        names = parse_model_list(args.models)
        _say_if_trimmed("--models", args.models)
        source = weights_source(args.weights)
        settings = engine_settings(args.engine, args.precision)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.csv:
        _output_path(args.csv, "--csv")
    images = [] if args.csv else _read_images(args.images)

    from model_zoo.inference import compare, load_classifiers

    try:
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
            classifiers = load_classifiers(names, source, settings)
    except MissingWeightsError as err:
        raise UsageError(str(err)) from None
    except RuntimeError as err:  # MODEL_ZOO_ENGINE=openvino where OpenVINO cannot run
        raise UsageError(str(err)) from None
    if args.csv:
        from model_zoo.predict import answers_csv, classify_photos

        photos = _photos(args.images)
        if source.is_random:
            print("WARNING: random weights — these predictions are meaningless.", file=sys.stderr)
        try:
            rows = classify_photos(classifiers, photos, on_progress=_progress_bar())
        except DatasetError as err:
            raise UsageError(str(err)) from None
        _write_csv(answers_csv(rows), args.csv, len(rows))
        return 0
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


def _explain(args: argparse.Namespace) -> int:
    try:
        spec = get_spec(args.model.lower())
        class_index = None if args.class_ is None else class_index_of(args.class_)
        source = weights_source(args.weights)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if not 0 <= args.opacity <= 1:
        raise UsageError(f"--opacity must be between 0 and 1, got {args.opacity}")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out must name a .png file, got {args.out!r}")
    if not out.parent.is_dir():
        raise UsageError(f"--out: the folder {out.parent} does not exist")
    [image] = _read_images([args.image])

    from model_zoo.explain import explain, overlay
    from model_zoo.inference import load_classifier

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            # Grad-CAM runs on the Keras model, and so do its probabilities: no other engine.
            classifier = load_classifier(spec.name, source, EngineSettings("tensorflow"))
    except MissingWeightsError as err:
        raise UsageError(str(err)) from None
    result = explain(classifier, image, class_index, args.resize)
    Image.fromarray(overlay(image, result.heatmap, args.opacity, args.resize)).save(out)
    label = pretty_label(result.class_index)
    print(
        f"{spec.display_name}: explained {label} (class {result.class_index}, "
        f"{result.score:.1%}) -> {out}"
    )
    return 0


def _config(args: argparse.Namespace, **extra: object) -> TrainConfig:
    """The settings both training commands share, checked (UsageError when bad)."""
    extra = {"image_size": args.image_size, **extra}
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        val_split=args.val_split,
        test_split=args.test_split,
        early_stopping=not args.no_early_stopping,
        patience=args.patience,
        seed=args.seed,
        **extra,  # type: ignore[arg-type]
    )
    if not 0 <= args.threshold <= 1:
        raise UsageError(f"--threshold must be between 0 and 1, got {args.threshold}")
    try:
        return config.validated()
    except ValueError as err:
        raise UsageError(str(err)) from None


def _say_if_trimmed(flag: str, value: str) -> None:
    """Names are read trimmed and lower-cased; a list that needed it is said back."""
    read = ",".join(part.strip().lower() for part in value.split(","))
    if read != value:
        print(f"note: {flag} {value!r} read as {read!r}", file=sys.stderr)


def _out_folder(value: str) -> Path:
    return _output_path(value, "--out", folder=True)


def _output_path(value: str, flag: str, *, folder: bool = False) -> Path:
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
    parent = next(p for p in out.parents if p.exists())
    if not parent.is_dir():
        raise UsageError(f"{flag} {out}: {parent} is not a folder")
    if not folder and parent != out.parent.resolve() and parent != out.parent:
        raise UsageError(f"{flag} {out}: the folder {out.parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{flag} {out}: cannot write in {parent}")
    return out


def _read_zip(path: str) -> bytes:
    try:
        return read_regular(Path(path), DatasetLimits().max_zip_bytes)
    except UntrustedFileError as err:
        raise UsageError(str(err)) from None


@contextlib.contextmanager
def _training(args: argparse.Namespace) -> Iterator[tuple[threading.Event, Path]]:
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


def _finetune(args: argparse.Namespace) -> int:
    config = _config(
        args,
        backbone=args.backbone.lower(),
        head=args.head,
        augment=args.augment,
        unfreeze=args.unfreeze,
        fine_tune_epochs=args.fine_tune_epochs,
    )
    try:
        source = weights_source(args.weights)
    except ValueError as err:
        raise UsageError(str(err)) from None
    try:
        formats = parse_formats(args.export)
    except ValueError as err:
        raise UsageError(str(err)) from None
    out = _out_folder(args.out)
    data = _read_zip(args.data)

    from model_zoo.finetune.export import write_export
    from model_zoo.finetune.settings import TrainingStopped
    from model_zoo.finetune.training import train

    stdout = sys.stdout  # bound now: training runs with stdout redirected (Keras' chatter)

    def on_epoch(log: EpochLog) -> None:
        if args.json_progress:
            print(
                json.dumps({**log.to_dict(), "seconds": round(log.seconds, 3)}),
                file=stdout,
                flush=True,
            )
        else:
            print(
                f"epoch {log.epoch:3d} {log.phase:<13} loss {log.loss:.4f} acc "
                f"{log.accuracy:.3f}  val_loss {log.val_loss:.4f} val_acc "
                f"{log.val_accuracy:.3f}  {log.seconds:.1f} s",
                file=stdout,
                flush=True,
            )

    try:
        with _training(args) as (stop, job):
            dataset = extract_dataset(data, job)
            result = train(dataset, config, source, stop=stop, on_epoch=on_epoch)
    except TrainingStopped:
        print("stopped before the first epoch finished; nothing saved", file=sys.stderr)
        return 130
    with contextlib.redirect_stdout(io.StringIO()):
        write_export(result, out, args.threshold, formats)
    for report in json.loads((out / "metrics.json").read_text())["formats"]:
        print(_format_line(report), file=sys.stderr)
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


def _format_line(report: dict) -> str:
    if report["error"]:
        return f"{report['format']}: skipped, {report['error']}"
    return (
        f"{report['format']}: {report['file']} {report['size_mb']:.1f} MB, top-1 agreement "
        f"{report['agreement']:.1%} on {report['images']} validation images, max difference "
        f"{report['max_difference']:.1e}, {report['ms_per_image']:.1f} ms/image"
    )


def _leaderboard(args: argparse.Namespace) -> int:
    from model_zoo.finetune.leaderboard import CSV_FILE, Row, parse_choice, to_csv

    try:
        backbones = parse_choice(args.backbones, list(MODELS), "backbone")
        heads = parse_choice(args.heads, list(HEADS), "head")
        _say_if_trimmed("--backbones", args.backbones)
        _say_if_trimmed("--heads", args.heads)
        source = weights_source(args.weights)
    except ValueError as err:
        raise UsageError(str(err)) from None
    # The size is capped at each backbone's own; it must reach every backbone's minimum.
    config = dataclasses.replace(_config(args, image_size=0), image_size=args.image_size)
    for name in backbones:
        spec = get_spec(name)
        if args.image_size and not spec.min_input_size <= args.image_size <= 299:
            raise UsageError(
                f"--image-size for {spec.display_name} must be {spec.min_input_size}..299 "
                f"(it is capped at the backbone's own size); got {args.image_size}"
            )
    out = _out_folder(args.out)
    data = _read_zip(args.data)

    from model_zoo.finetune.export import write_export
    from model_zoo.finetune.settings import TrainingStopped
    from model_zoo.finetune.training import train_grid

    best: dict[str, object] = {}

    def on_row(row: Row, result: object) -> None:
        print(
            f"{row.label}: test_accuracy {row.test_accuracy:.3f} "
            f"({row.test_interval[0]:.2f}-{row.test_interval[1]:.2f}), val_loss "
            f"{row.val_loss:.4f}, {row.ms_per_image:.0f} ms/image",
            file=sys.stderr,
            flush=True,
        )
        current = best.get("row")
        if not isinstance(current, Row) or _better(row, current):
            best.update(row=row, result=result)  # only the best model is kept in memory

    try:
        with _training(args) as (stop, job):
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
        write_export(best["result"], out, args.threshold)  # type: ignore[arg-type]
    winner = rows[0]
    if args.json:
        print(
            json.dumps(
                {
                    "rows": [r.to_dict() for r in rows],
                    "best": {"backbone": winner.backbone, "head": winner.head},
                    "split": dict(zip(("train", "validation", "test"), _sizes(best), strict=True)),
                    "weights": str(source),
                    "out": str(out),
                },
                indent=2,
            )
        )
    else:
        print(to_csv(rows), end="")
    print(f"best: {winner.label}; saved {CSV_FILE} and its model to {out}", file=sys.stderr)
    for name, why in dataset.skipped:
        print(f"skipped {name}: {why}", file=sys.stderr)
    return 0


def _better(row: object, than: object) -> bool:
    from model_zoo.finetune.leaderboard import ranked

    return ranked([than, row])[0] is row  # type: ignore[list-item]


def _sizes(best: dict[str, object]) -> tuple[int, int, int]:
    return best["result"].evaluation.split_sizes  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI and returns its exit status."""
    try:
        # Python's own messages still reach stderr; native libraries' start-up lines and
        # decoder warnings (which vary by CPU and file) do not.
        with only_our_own_stderr():
            args = build_parser().parse_args(argv)
            if args.command == "classify":
                return _classify(args)
            if args.command == "finetune":
                return _finetune(args)
            if args.command == "leaderboard":
                return _leaderboard(args)
            if args.command == "predict":
                return _predict(args)
            if args.command == "explain":
                return _explain(args)
            raise UsageError(f"unknown command {args.command!r}")
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """The ``model-zoo`` console script."""
    sys.exit(main())


if __name__ == "__main__":
    run()
