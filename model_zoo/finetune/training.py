"""Transfer learning: a new head on a registry backbone, trained on a checked ``Dataset``.

The steps of the keras.io transfer-learning guide: split, load, build, train the head,
optionally fine-tune the top of the backbone, evaluate. With augmentation off the frozen
backbone sees each image once and the head trains on its cached features, so extra epochs
cost almost nothing; with augmentation the full model trains on images. The model returned
takes raw RGB pixels (0-255) and reloads anywhere with no custom objects.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model_zoo import runtime
from model_zoo.datasets import Dataset
from model_zoo.finetune.balance import unweighted_recall
from model_zoo.finetune.eta import run_plan, timed
from model_zoo.finetune.evaluation import (
    CHECK_IMAGES,
    TrainResult,
    evaluate,
    model_predictor,
    predict_batched,
)
from model_zoo.finetune.events import (
    EpochFn,
    Progress,
    ProgressFn,
    noop,
)
from model_zoo.finetune.features import (
    CachedFeatures,
    load_pixels,
)
from model_zoo.finetune.fit import Stages
from model_zoo.finetune.model import (
    FineTuned,
    Head,
    assemble,
    head_layers,
    strategy,
)
from model_zoo.finetune.settings import TrainConfig, TrainingStopped
from model_zoo.finetune.split import Split, dataset_split
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
        feature_dir: Also keep cached features as files here (the dataset's job folder).

    Raises:
        ValueError: a bad setting.
        TrainingStopped: stopped before a single epoch finished (no model to keep).
        MissingWeightsError: the backbone's weights are not available.
    """
    config.validated()
    started = time.perf_counter()
    runtime.keras().utils.set_random_seed(config.seed)
    paths, labels = dataset.samples()
    keep = config.keep_copies_together
    split = dataset_split(dataset, config.val_split, config.test_split, config.seed, keep)
    cache = CachedFeatures(dataset, config, weights, feature_dir)
    features = cache.load() if config.uses_cached_features else None
    plan = run_plan(config, len(paths), *split.sizes()[1:], features is not None)
    report = timed(on_progress, plan)
    pixels = load_pixels(paths, config.size, stop, report)
    stages = Stages(config, labels, split.train, split.val, stop, report, on_epoch)

    with strategy().scope():
        if features is not None:  # cached (the data doctor's pass, or an earlier run's)
            head, parts = _head_first(config, weights, len(dataset.classes), stages, features)
        else:
            report(Progress("building the backbone", 0, 1))
            parts = assemble(config, weights, len(dataset.classes))
            if config.uses_cached_features:
                features = cache.extract(parts.backbone, pixels, stop, report)
                head = stages.head_on_features(parts, features)
            else:
                head = None
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
    if head is not None and features is not None:  # the outputs Keras judged the epochs by
        val_probs = predict_batched(model_predictor(head), features[split.val], config.batch_size)
    else:
        val_probs = predict_batched(predict, pixels[split.val], config.batch_size)
    # The test split, once, as the downloaded model computes it: from the features when this
    # run's pass computed them as that model does (f32), else through the whole model.
    if head is not None and features is not None and cache.as_downloaded:
        test_probs = predict_batched(model_predictor(head), features[split.test], config.batch_size)
    else:
        test_probs = predict_batched(predict, pixels[split.test], config.batch_size)
    evaluation = judge(test_probs, val_probs, labels, split, dataset.classes, pixels)
    if config.class_weighted and features is not None and not stages.stopped:
        before = unweighted_recall(config, features, labels, split, len(dataset.classes))
        evaluation = dataclasses.replace(evaluation, unweighted_recall=before)
    report(Progress("evaluating", 1, 1))
    check = pixels[split.val][:CHECK_IMAGES]
    return result_of(
        parts.model, config, weights, stages, dataset.classes, evaluation, started, cache, check
    )


def _head_first(
    config: TrainConfig, weights: WeightsSource, n_classes: int, stages: Stages, features: Any
) -> tuple[Any, FineTuned]:
    """On cached features the head trains before the backbone exists, so the first epoch
    comes without waiting for it; the backbone is built afterwards from the same seed, as
    ``assemble`` builds it at a run's start: on random weights, the very backbone those
    features came from."""
    keras = runtime.keras()
    keras.utils.set_random_seed(config.seed)  # as ``assemble`` seeds its head
    trained = Head(head_layers(config.head, n_classes, config.seed))
    head = stages.head_on_features(trained, features)
    if not stages.history:
        raise TrainingStopped("stopped before the first epoch finished")
    stages.on_progress(Progress("building the backbone", 0, 1))
    keras.utils.set_random_seed(config.seed)  # as at a run's start, before its backbone
    return head, assemble(config, weights, n_classes, head=trained.head)


def judge(
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


def result_of(
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
