"""``model-zoo explain IMAGE --model M --out PNG``: a Grad-CAM overlay of one model."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

from PIL import Image

from model_zoo.cli.common import (
    WEIGHTS_HELP,
    Subparsers,
    UsageError,
    add_command,
    add_engine_options,
    read_images,
)
from model_zoo.engine import engine_settings
from model_zoo.gradcam import DEFAULT_OPACITY
from model_zoo.images import RESIZE_MODES
from model_zoo.labels import class_index as class_index_of
from model_zoo.labels import pretty_label
from model_zoo.registry import MODELS, get_spec
from model_zoo.weights import MissingWeightsError, weights_source


def register(sub: Subparsers) -> None:
    parser = add_command(sub, "explain", run, help="Grad-CAM heatmap over the photo, as a PNG")
    parser.add_argument("image", metavar="IMAGE")
    parser.add_argument("--model", required=True, help=", ".join(MODELS))
    parser.add_argument(
        "--class",
        dest="class_",
        default=None,
        metavar="LABEL|INDEX",
        help="ImageNet class to explain, e.g. tabby or 281 (default: top-1)",
    )
    parser.add_argument("--out", required=True, metavar="PNG")
    parser.add_argument("--opacity", type=float, default=DEFAULT_OPACITY)
    parser.add_argument("--resize", choices=RESIZE_MODES, default="squash")
    parser.add_argument("--weights", default=None, help=WEIGHTS_HELP)
    add_engine_options(parser)


def _checked_out(args: argparse.Namespace) -> Path:
    if not 0 <= args.opacity <= 1:
        raise UsageError(f"--opacity must be between 0 and 1, got {args.opacity}")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out must name a .png file, got {args.out!r}")
    if not out.parent.is_dir():
        raise UsageError(f"--out: the folder {out.parent} does not exist")
    return out


def run(args: argparse.Namespace) -> int:
    try:
        spec = get_spec(args.model.lower())
        class_index = None if args.class_ is None else class_index_of(args.class_)
        source = weights_source(args.weights)
        settings = engine_settings(args.engine, args.precision)
    except ValueError as err:
        raise UsageError(str(err)) from None
    out = _checked_out(args)
    [image] = read_images([args.image])

    from model_zoo.compare.explain import explain
    from model_zoo.compare.inference import load_classifier
    from model_zoo.gradcam import overlay

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            # On OpenVINO one pass gives the probabilities and the heatmap (gradcam.run_cam)
            classifier = load_classifier(spec.name, source, settings)
    except MissingWeightsError as err:
        raise UsageError(str(err)) from None
    result = explain(classifier, image, class_index, args.resize)
    Image.fromarray(overlay(image, result.heatmap, args.opacity, args.resize)).save(out)
    label = pretty_label(result.class_index)
    print(
        f"{spec.display_name}: explained {label} (class {result.class_index}, "
        f"{result.score:.1%}) on {result.engine} -> {out}"
    )
    return 0
