"""A leaderboard: every head on every backbone, judged on one shared split. Each backbone
makes one feature pass (or finds it cached) and every head trains on those features, so
the grid costs about one pass per backbone, not one per combination.

Importing this module imports TensorFlow and Keras (the training process does).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_zoo import runtime
from model_zoo.datasets import Dataset
from model_zoo.finetune.eta import grid_plan, timed
from model_zoo.finetune.evaluation import (
    CHECK_IMAGES,
    TrainResult,
    model_predictor,
    predict_batched,
)
from model_zoo.finetune.events import EpochFn, Progress, ProgressFn, noop
from model_zoo.finetune.features import (
    CachedFeatures,
    extract_features,
    load_pixels,
)
from model_zoo.finetune.fit import Stages
from model_zoo.finetune.leaderboard import Row, ranked
from model_zoo.finetune.model import assemble, build_backbone, preprocessing_layer, strategy
from model_zoo.finetune.settings import HEAD_SPECS, TrainConfig, TrainingStopped
from model_zoo.finetune.split import Split, dataset_split
from model_zoo.finetune.training import judge, result_of
from model_zoo.weights import WeightsSource
from model_zoo.wording import run_key

RowFn = Callable[[Row, TrainResult], None]


def _no_row(row: Row, result: TrainResult) -> None:
    return None


@dataclass
class _Grid:
    """What every combination of one leaderboard shares."""

    dataset: Dataset
    heads: Sequence[str]
    weights: WeightsSource
    labels: np.ndarray
    split: Split
    flat: bool  # some head trains on the flattened feature map, not on pooled features
    stop: threading.Event | None
    report: ProgressFn
    on_epoch: EpochFn
    on_row: RowFn
    runs: int
    rows: list[Row] = dataclasses.field(default_factory=list)

    def reporter(self, run: str, index: int) -> ProgressFn:
        return lambda p: self.report(
            dataclasses.replace(p, run=run, run_index=index, runs=self.runs)
        )

    @property
    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()


@dataclass
class _Pass:
    """One backbone's feature pass: the features of every image and of the test split as
    the downloaded model computes them, and the backbone's own latency."""

    config: TrainConfig
    backbone: Any
    cache: CachedFeatures
    features: np.ndarray
    test_maps: np.ndarray
    backbone_ms: float
    pixels: np.ndarray


def grid_configs(
    base: TrainConfig, backbones: Sequence[str], heads: Sequence[str]
) -> dict[str, TrainConfig]:
    """Each backbone's settings (its size fitted), checked with every head.

    Raises:
        ValueError: a bad setting, or augmentation or unfreezing asked for.
    """
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
    return configs


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

    Args:
        dataset: A checked dataset.
        backbones: Registry names.
        heads: Names from ``HEAD_SPECS``.
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
    configs = grid_configs(base, backbones, heads)
    order = sorted(backbones, key=lambda name: configs[name].size)  # each size loaded once
    flat = any(not HEAD_SPECS[h].pooled for h in heads)
    caches = {n: CachedFeatures(dataset, configs[n], weights, feature_dir, not flat) for n in order}
    stored = {name: caches[name].load() for name in order}
    paths, labels = dataset.samples()
    split = dataset_split(
        dataset, base.val_split, base.test_split, base.seed, base.keep_copies_together
    )
    _, n_val, n_test = split.sizes()
    cached = {n for n, f in stored.items() if f is not None}
    plan = grid_plan([configs[n] for n in order], heads, len(paths), n_val, n_test, cached)
    report_all = timed(on_progress, plan)
    grid = _Grid(
        dataset, heads, weights, labels, split, flat, stop, report_all, on_epoch, on_row,
        len(order) * len(heads),
    )  # fmt: skip
    pixels = np.zeros(0)
    with _expected_retracing(), contextlib.suppress(TrainingStopped):
        for name in order:
            config = configs[name]
            report = grid.reporter(name, len(grid.rows) + 1)
            if pixels.shape[1:2] != (config.size,):  # the previous size goes first
                pixels = np.zeros(0)
                pixels = load_pixels(paths, config.size, stop, report)
            done = _heads_on(
                grid, _feature_pass(grid, config, caches[name], stored.pop(name), pixels, report)
            )
            if not done or grid.stopped:
                break
    if not grid.rows:
        raise TrainingStopped("stopped before the first combination finished an epoch")
    return ranked(grid.rows)


@contextlib.contextmanager
def _expected_retracing() -> Iterator[None]:
    # Every head is a new model, so Keras traces its functions anew: expected, not a warning.
    tf_log = logging.getLogger("tensorflow")
    level = tf_log.level
    tf_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        tf_log.setLevel(level)


def _feature_pass(
    grid: _Grid,
    config: TrainConfig,
    cache: CachedFeatures,
    features: np.ndarray | None,
    pixels: np.ndarray,
    report: ProgressFn,
) -> _Pass:
    """The backbone built, its features made (unless cached) and the test split's as the
    downloaded model computes them."""
    with strategy().scope():
        report(Progress("building the backbone", 0, 1))
        # As in train(): random weights are drawn from the seed, and the cached features are
        # keyed by it.
        runtime.keras().utils.set_random_seed(config.seed)
        backbone = build_backbone(config.spec, grid.weights, config.size)
    if features is None:
        features = cache.extract(backbone, pixels, grid.stop, report)
    report(Progress("evaluating", 0, 1))
    test = grid.split.test
    if cache.as_downloaded:  # the pass the downloaded model makes, to float rounding
        test_maps = features[test]
    else:
        test_maps, _, _ = extract_features(
            backbone, config.spec, pixels[test], config.batch_size, cache.pooled, grid.stop
        )
    report(Progress("evaluating", 1, 1))
    backbone_ms = _latency_ms(_backbone_predictor(backbone, config.spec), pixels[:1])
    return _Pass(config, backbone, cache, features, test_maps, backbone_ms, pixels)


def _heads_on(grid: _Grid, made: _Pass) -> bool:
    """Every head on one backbone's features; False once one was stopped."""
    shape = made.backbone.output_shape[1:]

    def pooled(f: np.ndarray) -> np.ndarray:
        return f.reshape(len(f), *shape).mean(axis=(1, 2)) if grid.flat else f

    pooled_features, pooled_test = pooled(made.features), pooled(made.test_maps)
    for head in grid.heads:
        run = run_key(made.config.backbone, head)
        on_maps = not HEAD_SPECS[head].pooled
        feats = made.features if on_maps else pooled_features
        test_feats = made.test_maps if on_maps else pooled_test
        row, result = _grid_cell(
            grid,
            dataclasses.replace(made.config, head=head),
            made,
            feats,
            test_feats,
            grid.reporter(run, len(grid.rows) + 1),
            _tagged(grid.on_epoch, run),
        )
        if row is None:
            return False
        assert result is not None
        grid.rows.append(row)
        grid.on_row(row, result)
        if result.stopped:
            return False
    return True


def _tagged(on_epoch: EpochFn, run: str) -> EpochFn:
    return lambda log: on_epoch(dataclasses.replace(log, run=run))


def _grid_cell(
    grid: _Grid,
    config: TrainConfig,
    made: _Pass,
    features: np.ndarray,
    test_features: np.ndarray,
    report: ProgressFn,
    on_epoch: EpochFn,
) -> tuple[Row | None, TrainResult | None]:
    """One head of a leaderboard on its backbone's features; (None, None) if stopped
    before its first epoch."""
    split, classes, labels = grid.split, grid.dataset.classes, grid.labels
    started = time.perf_counter()
    stages = Stages(config, labels, split.train, split.val, grid.stop, report, on_epoch)
    with strategy().scope():
        parts = assemble(config, grid.weights, len(classes), made.backbone)
        head = stages.head_on_features(parts, features)
    if not stages.history:
        return None, None
    report(Progress("evaluating", 0, 1))
    predict = model_predictor(head)
    val_probs = predict_batched(predict, features[split.val], config.batch_size)
    test_probs = predict_batched(predict, test_features, config.batch_size)
    evaluation = judge(test_probs, val_probs, labels, split, classes, made.pixels)
    ms = made.backbone_ms + _latency_ms(predict, features[:1])
    report(Progress("evaluating", 1, 1))
    check = made.pixels[split.val][:CHECK_IMAGES]
    result = result_of(
        parts.model, config, grid.weights, stages, classes, evaluation, started, made.cache, check
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
