"""Transfer learning: a new head on a registry backbone, trained on a checked ``Dataset``.

The steps of the keras.io transfer-learning guide: split, load, build, train the head,
optionally fine-tune the top of the backbone, evaluate. With augmentation off the frozen
backbone sees each image once and the head trains on its cached features, so extra epochs
cost almost nothing; with augmentation the full model trains on images. The model returned
takes raw RGB pixels (0-255) and reloads anywhere with no custom objects.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model_zoo import runtime
from model_zoo.datasets import Dataset
from model_zoo.finetune.eta import grid_plan, run_plan, timed
from model_zoo.finetune.evaluation import (
    CHECK_IMAGES,
    TrainResult,
    evaluate,
    model_predictor,
    predict_batched,
)
from model_zoo.finetune.events import (
    EpochFn,
    EpochLog,
    Progress,
    ProgressFn,
    noop,
)
from model_zoo.finetune.features import (
    CachedFeatures,
    Split,
    extract_features,
    load_pixels,
    train_val_test_split,
)
from model_zoo.finetune.fit import Stages
from model_zoo.finetune.leaderboard import Row
from model_zoo.finetune.model import (
    assemble,
    build_backbone,
    preprocessing_layer,
    strategy,
)
from model_zoo.finetune.settings import TrainConfig, TrainingStopped
from model_zoo.weights import WeightsSource


def train(
    dataset: Dataset,
    config: TrainConfig,
    weights: WeightsSource,
    *,
    stop: threading.Event | None = None,
    on_progress: ProgressFn = noop,
    on_epoch: EpochFn = noop,
    feature_dir: Path | None = None,
) -> TrainResult:
    """Trains a new head (and optionally the top of the backbone) on ``dataset``.

    Args:
        dataset: A checked dataset (``datasets.extract_dataset``).
        config: Settings; validated here.
        weights: Where the backbone's weights come from.
        stop: Set it to end training within one batch; the best weights so far are kept.
        on_progress: Called per batch (and per image while loading), with the time left.
        on_epoch: Called with each epoch's metrics.
        feature_dir: Also keep cached features as files here (the dataset's own job
            folder), so a later run in another process finds them.

    Raises:
        ValueError: a bad setting.
        TrainingStopped: stopped before a single epoch finished (no model to keep).
        MissingWeightsError: the backbone's weights are not available.
    """
    config.validated()
    started = time.perf_counter()
    runtime.keras().utils.set_random_seed(config.seed)
    paths, labels = dataset.samples()
    split = train_val_test_split(labels, config.val_split, config.test_split, config.seed)
    cache = CachedFeatures(dataset, config, weights, feature_dir)
    features = cache.load() if config.uses_cached_features else None
    _, n_val, n_test = split.sizes()
    report = timed(on_progress, run_plan(config, len(paths), n_val, n_test, features is not None))
    pixels = load_pixels(paths, config.size, stop, report)
    stages = Stages(config, labels, split.train, split.val, stop, report, on_epoch)
    head = None

    with strategy().scope():
        report(Progress("building the backbone", 0, 1))
        parts = assemble(config, weights, len(dataset.classes))
        if config.uses_cached_features:
            if features is None:
                features = cache.extract(parts.backbone, pixels, stop, report)
            head = stages.head_on_features(parts, features)
        else:
            stages.on_images(parts, pixels, "training head")
        if not stages.history:
            raise TrainingStopped("stopped before the first epoch finished")
        if config.unfreeze > 0 and not stages.stopped:
            parts.unfreeze_top(config.unfreeze)
            stages.on_images(parts, pixels, "fine-tuning")
            head = None  # the backbone changed: the cached features no longer match it
        parts.backbone.trainable = False

    report(Progress("evaluating", 0, 1))
    predict = model_predictor(parts.model)
    if (
        head is not None and features is not None
    ):  # the validation outputs Keras judged the epochs by
        val_probs = predict_batched(model_predictor(head), features[split.val], config.batch_size)
    else:
        val_probs = predict_batched(predict, pixels[split.val], config.batch_size)
    # The test split, once, through the whole model as it will be downloaded.
    test_probs = predict_batched(predict, pixels[split.test], config.batch_size)
    evaluation = _judge(test_probs, val_probs, labels, split, dataset.classes, pixels)
    report(Progress("evaluating", 1, 1))
    check = pixels[split.val][:CHECK_IMAGES]
    return _result(
        parts.model, config, weights, stages, dataset.classes, evaluation, started, cache, check
    )


def _judge(
    test_probs: np.ndarray,
    val_probs: np.ndarray,
    labels: np.ndarray,
    split: Split,
    classes: Sequence[str],
    pixels: np.ndarray,
) -> Any:
    return evaluate(
        test_probs,
        labels[split.test],
        classes,
        pixels[split.test],
        validation=(val_probs, labels[split.val]),
        split_sizes=split.sizes(),
    )


def _result(
    model: Any,
    config: TrainConfig,
    weights: WeightsSource,
    stages: Stages,
    classes: tuple[str, ...],
    evaluation: Any,
    started: float,
    cache: CachedFeatures,
    check_pixels: np.ndarray,
) -> TrainResult:
    return TrainResult(
        model=model,
        classes=classes,
        config=config,
        weights=weights,
        history=stages.history,
        evaluation=evaluation,
        check_pixels=check_pixels,
        stopped=stages.stopped,
        # The weights kept: the epoch with the lowest validation loss, over both stages.
        best_epoch=1 + int(np.nanargmin([h.val_loss for h in stages.history])),
        seconds=time.perf_counter() - started,
        feature_seconds=cache.seconds,
        feature_images_per_second=cache.images_per_second,
        feature_engine=cache.engine,
    )


RowFn = Callable[[Row, TrainResult], None]


def _no_row(row: Row, result: TrainResult) -> None:
    return None


def train_grid(
    dataset: Dataset,
    backbones: Sequence[str],
    heads: Sequence[str],
    base: TrainConfig,
    weights: WeightsSource,
    *,
    stop: threading.Event | None = None,
    on_progress: ProgressFn = noop,
    on_epoch: EpochFn = noop,
    on_row: RowFn = _no_row,
    feature_dir: Path | None = None,
) -> list[Row]:
    """A leaderboard: every head in ``heads`` on every backbone in ``backbones``.

    Each backbone makes one feature pass (or finds it cached) and every head trains on
    those features, so the grid costs about one pass per backbone, not one per combination.
    All combinations share one train/validation/test split; the test split is judged once
    per combination, through the backbone on TensorFlow as the downloaded model runs it.

    Args:
        dataset: A checked dataset.
        backbones: Registry names.
        heads: Names from ``HEADS``.
        base: Settings shared by every combination (its backbone and head are ignored;
            ``image_size`` 0 means each backbone's own, else it is fitted to each).
        weights: Where the backbones' weights come from.
        stop: Set it to end the grid: the combination training then keeps its best epoch,
            and those not started are skipped.
        on_progress: Progress, with ``run``, ``run_index`` and ``runs`` set.
        on_epoch: Each epoch's metrics, with ``run`` set.
        on_row: Called with each finished combination's row and result (the caller keeps
            what it needs: the results hold whole models).
        feature_dir: Also keep cached features as files here.

    Returns:
        The rows, best first (``leaderboard.ranked``).

    Raises:
        ValueError: a bad setting, or augmentation or unfreezing asked for.
        TrainingStopped: stopped before the first combination finished an epoch.
        MissingWeightsError: a backbone's weights are not available.
    """
    from model_zoo.finetune.leaderboard import ranked

    if base.augment or base.unfreeze:
        raise ValueError(
            "The leaderboard trains every head on cached features: leave out augmentation "
            "and unfreezing."
        )
    dataclasses.replace(base, image_size=0).validated()  # the size is checked per backbone
    if not backbones or not heads:
        raise ValueError("Pick at least one backbone and one head.")
    configs = {}
    for name in backbones:
        spec = TrainConfig(backbone=name).spec
        size = TrainConfig.fit_size(spec, base.image_size or spec.input_size)
        configs[name] = dataclasses.replace(
            base, backbone=name, head=heads[0], image_size=size
        ).validated()
    for head in heads:
        dataclasses.replace(base, head=head).validated()
    order = sorted(backbones, key=lambda name: configs[name].size)  # each size loaded once
    flat = "dense_dropout" in heads
    caches = {
        name: CachedFeatures(
            dataset,
            dataclasses.replace(configs[name], head="dense_dropout" if flat else "gap"),
            weights,
            feature_dir,
        )
        for name in order
    }
    stored = {name: caches[name].load() for name in order}
    classes = dataset.classes
    paths, labels = dataset.samples()
    split = train_val_test_split(labels, base.val_split, base.test_split, base.seed)
    _, n_val, n_test = split.sizes()
    plan = grid_plan(
        [configs[n] for n in order],
        heads,
        len(paths),
        n_val,
        n_test,
        {n for n, f in stored.items() if f is not None},
    )
    report_all = timed(on_progress, plan)
    runs = len(order) * len(heads)

    def reporter(run: str, index: int) -> ProgressFn:
        return lambda p: report_all(dataclasses.replace(p, run=run, run_index=index, runs=runs))

    rows: list[Row] = []
    pixels, pixels_size, index = np.zeros(0), 0, 0
    # Every head is a new model, so Keras traces its functions anew: expected, not a warning.
    tf_log = logging.getLogger("tensorflow")
    level = tf_log.level
    tf_log.setLevel(logging.ERROR)
    try:
        for name in order:
            config, cache = configs[name], caches[name]
            report = reporter(name, index + 1)
            if pixels_size != config.size:
                pixels = np.zeros(0)  # the previous size goes before the next is decoded
                pixels = load_pixels(paths, config.size, stop, report)
                pixels_size = config.size
            with strategy().scope():
                report(Progress("building the backbone", 0, 1))
                # As in train(): random weights are drawn from the seed, and the cached
                # features are keyed by it.
                runtime.keras().utils.set_random_seed(config.seed)
                backbone = build_backbone(config.spec, weights, config.size)
            features = stored.pop(name)
            if features is None:
                features = cache.extract(backbone, pixels, stop, report)
            report(Progress("evaluating", 0, 1))
            if cache.engine == "TensorFlow":  # the very pass the downloaded model makes
                test_maps = features[split.test]
            else:
                test_maps, _, _ = extract_features(
                    backbone, config.spec, pixels[split.test], config.batch_size, cache.pooled, stop
                )
            report(Progress("evaluating", 1, 1))
            backbone_ms = _latency_ms(_backbone_predictor(backbone, config.spec), pixels[:1])
            maps_shape = backbone.output_shape[1:]

            def pooled(f: np.ndarray, shape: tuple = maps_shape) -> np.ndarray:
                return f.reshape(len(f), *shape).mean(axis=(1, 2)) if flat else f

            pooled_features, pooled_test = pooled(features), pooled(test_maps)
            for head in heads:
                index += 1
                run = f"{name} + {head}"
                feats, test_feats = (
                    (features, test_maps)
                    if head == "dense_dropout"
                    else (pooled_features, pooled_test)
                )
                row, result = _grid_cell(
                    dataclasses.replace(config, head=head),
                    weights,
                    backbone,
                    cache,
                    (feats, test_feats, labels, split, classes, pixels),
                    stop,
                    reporter(run, index),
                    _tagged(on_epoch, run),
                    backbone_ms,
                )
                if row is None:
                    break
                assert result is not None
                rows.append(row)
                on_row(row, result)
                if result.stopped:
                    break
            if stop is not None and stop.is_set():
                break
    except TrainingStopped:
        pass
    finally:
        tf_log.setLevel(level)
    if not rows:
        raise TrainingStopped("stopped before the first combination finished an epoch")
    return ranked(rows)


def _tagged(on_epoch: EpochFn, run: str) -> EpochFn:
    return lambda log: on_epoch(dataclasses.replace(log, run=run))


def _grid_cell(
    config: TrainConfig,
    weights: WeightsSource,
    backbone: Any,
    cache: CachedFeatures,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, Split, tuple[str, ...], np.ndarray],
    stop: threading.Event | None,
    report: ProgressFn,
    on_epoch: Callable[[EpochLog], None],
    backbone_ms: float,
) -> tuple[Row | None, TrainResult | None]:
    """One head of a leaderboard on its backbone's features; (None, None) if stopped
    before its first epoch."""
    features, test_features, labels, split, classes, pixels = data
    started = time.perf_counter()
    stages = Stages(config, labels, split.train, split.val, stop, report, on_epoch)
    with strategy().scope():
        parts = assemble(config, weights, len(classes), backbone)
        head = stages.head_on_features(parts, features)
    if not stages.history:
        return None, None
    report(Progress("evaluating", 0, 1))
    predict = model_predictor(head)
    val_probs = predict_batched(predict, features[split.val], config.batch_size)
    test_probs = predict_batched(predict, test_features, config.batch_size)
    evaluation = _judge(test_probs, val_probs, labels, split, classes, pixels)
    ms = backbone_ms + _latency_ms(predict, features[:1])
    report(Progress("evaluating", 1, 1))
    check = pixels[split.val][:CHECK_IMAGES]
    result = _result(
        parts.model, config, weights, stages, classes, evaluation, started, cache, check
    )
    return Row.of(result, ms, model_megabytes(parts.model)), result


def model_megabytes(model: Any) -> float:
    """The model's weights in MB (float32), about its saved file's size."""
    return float(model.count_params()) * 4 / 1e6


def _backbone_predictor(backbone: Any, spec: Any) -> Callable[[np.ndarray], Any]:
    tf = runtime.tensorflow()
    pre = preprocessing_layer(spec)
    return tf.function(lambda x: backbone(pre(tf.cast(x, tf.float32)), training=False))


def _latency_ms(predict: Callable[[np.ndarray], Any], x: np.ndarray, repeats: int = 3) -> float:
    """Median milliseconds of ``predict(x)`` after one warm-up call."""
    np.asarray(predict(x))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(predict(x))
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)
