"""Transfer learning: a new head on a registry backbone, trained on a checked ``Dataset``.

With augmentation off, the frozen backbone sees each image once: its features are computed
in batches, cached by content, and the head trains on them, so extra epochs cost almost
nothing. With augmentation, the full model trains on images as usual. ``unfreeze > 0`` adds
a second stage that trains the top backbone layers at a tenth of the rate, BatchNorm kept in
inference mode (true fine-tuning). The model returned takes raw RGB pixels (0-255): its
preprocessing is made of built-in layers, so it reloads anywhere with no custom objects.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from model_zoo import runtime
from model_zoo.datasets import Dataset
from model_zoo.images import load_image, resize, thumbnail
from model_zoo.registry import ModelSpec, get_spec
from model_zoo.weights import WeightsSource

HEADS: dict[str, str] = {
    "dense_dropout": "Flatten → Dense 256 (ReLU) → Dropout 0.5 → softmax",
    "gap": "Global average pooling → softmax",
    "gap_dropout": "Global average pooling → Dropout 0.5 → softmax",
}
MAX_EPOCHS = 100
MAX_BATCH_SIZE = 256
FINE_TUNE_RATE_FACTOR = 0.1
CAFFE_BGR_MEANS = (103.939, 116.779, 123.68)
FEATURE_CACHE_BYTES = 512 * 1024 * 1024


class TrainingStopped(Exception):
    """Raised inside ``fit`` when the stop event is set: training ends within one batch."""


@dataclass(frozen=True)
class TrainConfig:
    """The settings of one training run (see ``HEADS`` for the heads)."""

    backbone: str = "resnet50"
    head: str = "gap_dropout"
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    val_split: float = 0.2
    augment: bool = False
    early_stopping: bool = True
    patience: int = 3
    unfreeze: int = 0
    fine_tune_epochs: int = 5
    image_size: int = 0  # 0: the backbone's own input size
    seed: int = 0

    @property
    def spec(self) -> ModelSpec:
        return get_spec(self.backbone)

    @property
    def size(self) -> int:
        return self.image_size or self.spec.input_size

    @property
    def uses_cached_features(self) -> bool:
        """The head's first stage trains on cached backbone features."""
        return not self.augment

    def validated(self) -> TrainConfig:
        """Returns self after checking every setting.

        Raises:
            ValueError: a setting is out of range (the message names it).
        """
        spec = get_spec(self.backbone)
        if self.head not in HEADS:
            raise ValueError(f"Unknown head {self.head!r}. Expected one of {sorted(HEADS)}.")
        size_range = f"{spec.min_input_size}..{spec.input_size}"
        checks = [
            (1 <= self.epochs <= MAX_EPOCHS, f"epochs must be 1..{MAX_EPOCHS}; got {self.epochs}"),
            (
                1 <= self.batch_size <= MAX_BATCH_SIZE,
                f"batch size must be 1..{MAX_BATCH_SIZE}; got {self.batch_size}",
            ),
            (
                0 < self.learning_rate <= 1,
                f"learning rate must be in (0, 1]; got {self.learning_rate}",
            ),
            (
                0.05 <= self.val_split <= 0.5,
                f"validation split must be between 0.05 and 0.5; got {self.val_split}",
            ),
            (self.patience >= 1, f"patience must be at least 1; got {self.patience}"),
            (self.unfreeze >= 0, f"unfreeze must be 0 or more layers; got {self.unfreeze}"),
            (
                1 <= self.fine_tune_epochs <= MAX_EPOCHS,
                f"fine-tune epochs must be 1..{MAX_EPOCHS}; got {self.fine_tune_epochs}",
            ),
            (
                self.image_size == 0 or spec.min_input_size <= self.image_size <= spec.input_size,
                f"image size for {spec.display_name} must be {size_range}; got {self.image_size}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message[0].upper() + message[1:] + ".")
        if os.environ.get("TF_CONFIG") and (self.augment or self.unfreeze):
            # Keras 3's fit does not run across machines; _fit_multi_worker trains on arrays.
            raise ValueError(
                "Training across machines (TF_CONFIG) trains the head on cached features: "
                "leave out augmentation and unfreezing."
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "image_size": self.size}


@dataclass(frozen=True)
class EpochLog:
    """One epoch's metrics, for the live charts and ``--json-progress``."""

    phase: str
    epoch: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Progress:
    """Where a run is: the phase, and work done of the current epoch or pass.

    ``eta_seconds`` is the time left in the whole run (every phase still to come), not only
    in this one; None until there is something to estimate it from.
    """

    phase: str
    done: int
    total: int
    epoch: int = 0
    epochs: int = 0
    eta_seconds: float | None = None

    @property
    def unit(self) -> str:
        """What ``done`` and ``total`` count."""
        return "image" if self.phase == "loading images" else "batch"


# Seconds per unit of work before anything is measured: a 512-pixel JPEG decoded and
# resized ("decode"), one image through a backbone at batch size 32 on a 2-core CPU
# ("forward"), one image's features through a head for one epoch ("head"). The first
# measured batch of each kind replaces its prior.
_PRIOR_SECONDS = {"decode": 0.005, "forward": 0.1, "head": 0.001}
# A training step costs about a forward pass and two for the gradients.
_TRAIN_FACTOR = 3.0


class RunClock:
    """The time left in a whole run, from what each phase still has to do.

    The plan lists each phase with its kind of work ("decode", "forward" or "head") and its
    amount in images through that work; rates are measured as phases run, and a phase that never
    comes (cached features, early stopping) is dropped when a later one starts.
    """

    def __init__(self, plan: Sequence[tuple[str, str, float]]) -> None:
        self.plan = list(plan)
        self.rates = dict(_PRIOR_SECONDS)
        self._phase: str | None = None
        self._phase_start = 0.0

    def __call__(self, progress: Progress) -> Progress:
        """``progress`` with ``eta_seconds`` for the whole run."""
        names = [p[0] for p in self.plan]
        if progress.phase not in names:
            return progress
        index = names.index(progress.phase)
        if progress.phase != self._phase:
            self._phase, self._phase_start = progress.phase, time.perf_counter()
        _, kind, amount = self.plan[index]
        fraction = progress.done / max(progress.total, 1)
        if progress.epochs:
            fraction = (progress.epoch - 1 + fraction) / progress.epochs
        elapsed = time.perf_counter() - self._phase_start
        if fraction > 0 and amount > 0 and elapsed > 0:
            self.rates[kind] = elapsed / (amount * fraction)
        left = amount * (1 - min(fraction, 1.0)) * self.rates[kind]
        left += sum(a * self.rates[k] for _, k, a in self.plan[index + 1 :])
        return replace(progress, eta_seconds=left)


def _timed(on_progress: ProgressFn, clock: RunClock) -> ProgressFn:
    def report(progress: Progress) -> None:
        on_progress(clock(progress))

    return report


def run_plan(config: TrainConfig, n_images: int, n_val: int, cached: bool) -> RunClock:
    """A ``RunClock`` for training ``config`` on ``n_images`` (``n_val`` held out)."""
    n_train = n_images - n_val
    epoch = n_train * _TRAIN_FACTOR + n_val  # a training epoch, then its validation pass
    plan = [("loading images", "decode", float(n_images)), ("building the backbone", "decode", 0)]
    if config.uses_cached_features:
        if not cached:
            plan.append(("extracting features", "forward", float(n_images)))
        plan.append(("training head", "head", float(n_train * config.epochs)))
    else:
        plan.append(("training head", "forward", epoch * config.epochs))
    if config.unfreeze > 0:
        plan.append(("fine-tuning", "forward", epoch * config.fine_tune_epochs))
    plan.append(("evaluating", "forward", float(n_val)))
    return RunClock(plan)


@dataclass(frozen=True)
class ClassReport:
    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """The validation split, judged by the final model (its best epoch's weights).

    Attributes:
        accuracy: Fraction of validation images classified right.
        loss: Mean cross-entropy on the validation images.
        confusion: ``confusion[true, predicted]`` counts.
        per_class: Precision, recall, F1 and support per class.
        probabilities: ``(N, classes)`` outputs for the validation images.
        labels: True labels.
        thumbnails: Small copies of the validation images, for galleries.
    """

    accuracy: float
    loss: float
    confusion: np.ndarray
    per_class: tuple[ClassReport, ...]
    probabilities: np.ndarray
    labels: np.ndarray
    thumbnails: tuple[np.ndarray, ...]

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    def mistakes(self, limit: int = 12) -> list[int]:
        """Validation indices wrongly classified, most confident first."""
        pred = self.predictions
        wrong = np.flatnonzero(pred != self.labels)
        confidence = self.probabilities[wrong, pred[wrong]]
        return [int(i) for i in wrong[np.argsort(-confidence, kind="stable")][:limit]]

    def cell(self, true: int, predicted: int) -> list[int]:
        """Validation indices with this true and predicted class (a confusion-matrix cell)."""
        return [
            int(i) for i in np.flatnonzero((self.labels == true) & (self.predictions == predicted))
        ]


@dataclass
class TrainResult:
    """A finished (or stopped) run: the model and everything the results page shows."""

    model: Any
    classes: tuple[str, ...]
    config: TrainConfig
    weights: WeightsSource
    history: list[EpochLog]
    evaluation: Evaluation
    stopped: bool
    best_epoch: int
    seconds: float
    feature_seconds: float = 0.0
    feature_images_per_second: float = 0.0
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S"))

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities for RGB uint8 images of any size (squashed to the input size)."""
        batch = np.stack([resize(img, self.config.size) for img in images])
        return np.asarray(self.model.predict_on_batch(batch))


ProgressFn = Callable[[Progress], None]
EpochFn = Callable[[EpochLog], None]


def _noop(_: object) -> None:
    return None


# --- Building blocks -------------------------------------------------------------------------


def preprocessing_layer(spec: ModelSpec) -> Any:
    """The family's ``preprocess_input`` as a built-in, frozen Keras layer.

    tf mode is a ``Rescaling``; caffe mode (RGB→BGR, minus the ImageNet means) is a fixed
    1×1 convolution. Built-in layers serialise without custom objects or a ``Lambda``.
    """
    keras = runtime.keras()

    if spec.preprocess_mode == "tf":
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")
    layer = keras.layers.Conv2D(3, 1, name="preprocess", trainable=False)
    layer.build((None, None, None, 3))
    kernel = np.zeros((1, 1, 3, 3), dtype=np.float32)
    for out_channel, in_channel in enumerate((2, 1, 0)):  # BGR from RGB
        kernel[0, 0, in_channel, out_channel] = 1.0
    layer.set_weights([kernel, -np.asarray(CAFFE_BGR_MEANS, dtype=np.float32)])
    return layer


def head_layers(head: str, n_classes: int, seed: int = 0) -> list[Any]:
    """The head's layers; the first one turns the backbone's feature map into a vector."""
    keras = runtime.keras()

    out = keras.layers.Dense(n_classes, activation="softmax", name="predictions")
    if head == "dense_dropout":
        return [
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(256, activation="relu", name="dense"),
            keras.layers.Dropout(0.5, seed=seed, name="dropout"),
            out,
        ]
    if head == "gap":
        return [keras.layers.GlobalAveragePooling2D(name="avg_pool"), out]
    if head == "gap_dropout":
        return [
            keras.layers.GlobalAveragePooling2D(name="avg_pool"),
            keras.layers.Dropout(0.5, seed=seed, name="dropout"),
            out,
        ]
    raise ValueError(f"Unknown head {head!r}. Expected one of {sorted(HEADS)}.")


def build_backbone(spec: ModelSpec, weights: WeightsSource, size: int) -> Any:
    """A fresh, frozen, headless backbone (never the shared Compare models)."""
    backbone = spec.constructor(
        include_top=False,
        input_shape=(size, size, 3),
        weights=weights.keras_argument(spec, notop=True),
    )
    backbone.trainable = False
    return backbone


def _strategy() -> Any:
    """Several machines (``TF_CONFIG`` set): MultiWorkerMirrored; several GPUs: Mirrored."""
    tf = runtime.tensorflow()
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def stratified_split(
    labels: np.ndarray, val_split: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices, each class split in the same proportion (seeded).

    Every class keeps at least one image on each side.
    """
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_val = min(max(1, round(len(idx) * val_split)), len(idx) - 1)
        val.extend(idx[:n_val])
        train.extend(idx[n_val:])
    return np.sort(np.array(train)), np.sort(np.array(val))


def load_pixels(
    paths: Sequence[Any],
    size: int,
    stop: threading.Event | None = None,
    on_progress: ProgressFn = _noop,
) -> np.ndarray:
    """Decodes and squashes images to ``(N, size, size, 3)`` uint8 (as Compare does)."""
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        if stop is not None and stop.is_set():
            raise TrainingStopped
        out[i] = resize(load_image(path.read_bytes()), size).round().astype(np.uint8)
        if i % 16 == 0 or i == len(paths) - 1:
            on_progress(Progress("loading images", i + 1, len(paths)))
    return out


class _FeatureCache:
    """Backbone features by (dataset content, backbone, size, weights): shared, bounded."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: tuple, value: np.ndarray) -> None:
        if value.nbytes > self.max_bytes:
            return
        value.setflags(write=False)
        with self._lock:
            self._items[key] = value
            while sum(v.nbytes for v in self._items.values()) > self.max_bytes:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


FEATURES = _FeatureCache(FEATURE_CACHE_BYTES)


def extract_features(
    backbone: Any,
    spec: ModelSpec,
    pixels: np.ndarray,
    batch_size: int,
    pooled: bool,
    stop: threading.Event | None = None,
    on_progress: ProgressFn = _noop,
) -> tuple[np.ndarray, float]:
    """One pass of the frozen backbone over all images, in batches.

    Returns:
        ``(N, D)`` features (pooled, or the flattened feature map) and images per second.
    """
    tf = runtime.tensorflow()
    pre = preprocessing_layer(spec)

    @tf.function(reduce_retracing=True)
    def forward(x: Any) -> Any:
        maps = backbone(pre(tf.cast(x, tf.float32)), training=False)
        if pooled:
            return tf.reduce_mean(maps, axis=[1, 2])
        return tf.reshape(maps, [tf.shape(maps)[0], -1])

    chunks = []
    steps = max(1, -(-len(pixels) // batch_size))
    start = time.perf_counter()
    for step in range(steps):
        if stop is not None and stop.is_set():
            raise TrainingStopped
        chunks.append(np.asarray(forward(pixels[step * batch_size : (step + 1) * batch_size])))
        on_progress(Progress("extracting features", step + 1, steps))
    seconds = time.perf_counter() - start
    return np.concatenate(chunks), len(pixels) / max(seconds, 1e-9)


def _keras_callbacks(
    phase: str,
    epochs: int,
    steps: int,
    stop: threading.Event | None,
    on_progress: ProgressFn,
    on_epoch: EpochFn,
    history: list[EpochLog],
    epoch_offset: int,
) -> Any:
    callback_base: Any = runtime.keras().callbacks.Callback  # Keras is imported lazily

    class Live(callback_base):
        """Per-batch progress, per-epoch logs, and the Stop button within one batch."""

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.epoch_start = time.perf_counter()
            self.epoch = epoch

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if stop is not None and stop.is_set():
                raise TrainingStopped
            on_progress(Progress(phase, batch + 1, steps, self.epoch + 1, epochs))

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = logs or {}
            entry = EpochLog(
                phase,
                epoch_offset + epoch + 1,
                float(logs.get("loss", np.nan)),
                float(logs.get("accuracy", np.nan)),
                float(logs.get("val_loss", np.nan)),
                float(logs.get("val_accuracy", np.nan)),
                time.perf_counter() - self.epoch_start,
            )
            history.append(entry)
            on_epoch(entry)

    return Live()


class _BestWeights:
    """Keeps the weights of the epoch with the lowest validation loss (fastai's
    SaveModelCallback): restored when a stage ends, whether it finished or was stopped."""

    def __init__(self, model: Any, best: float = np.inf, weights: list | None = None) -> None:
        callback_base: Any = runtime.keras().callbacks.Callback

        self.model, self.best, self.weights = model, best, weights
        outer = self

        class Track(callback_base):
            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                loss = float((logs or {}).get("val_loss", np.inf))
                if loss < outer.best:
                    outer.best, outer.weights = loss, outer.model.get_weights()

        self.callback = Track()

    def restore(self) -> None:
        if self.weights is not None:
            self.model.set_weights(self.weights)


def _fit(
    model: Any,
    train: Any,
    val: Any,
    *,
    epochs: int,
    steps: int,
    phase: str,
    config: TrainConfig,
    stop: threading.Event | None,
    on_progress: ProgressFn,
    on_epoch: EpochFn,
    history: list[EpochLog],
    best: _BestWeights,
    batch_size: int | None = None,
) -> bool:
    """Runs ``model.fit``; returns True when it was stopped."""
    keras = runtime.keras()

    callbacks = [
        _keras_callbacks(phase, epochs, steps, stop, on_progress, on_epoch, history, len(history)),
        best.callback,
    ]
    if config.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience)
        )
    try:
        x, y = train
        if _multi_worker():
            _fit_multi_worker(model, x, y, val, epochs, batch_size or 32, callbacks, config.seed)
        else:
            model.fit(
                x,
                y,
                validation_data=val,
                epochs=epochs,
                batch_size=batch_size,
                verbose=0,
                shuffle=batch_size is not None,  # tf.data inputs are shuffled by their pipeline
                callbacks=callbacks,
            )
        stopped = False
    except TrainingStopped:
        stopped = True
    best.restore()
    return stopped


def _multi_worker() -> bool:
    tf = runtime.tensorflow()
    return isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)


def _fit_multi_worker(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    val: tuple[np.ndarray, np.ndarray],
    epochs: int,
    batch_size: int,
    callbacks: list[Any],
    seed: int,
) -> None:
    """``model.fit`` for several machines, on arrays (cached features).

    Keras 3's ``fit`` does not run under ``MultiWorkerMirroredStrategy`` (keras-team/keras
    #20585), so this loop does its job: each worker takes its shard of every global batch,
    the optimizer sums the gradients across workers, and Keras' own callbacks see the same
    events. Every worker holds the whole validation split, so all stop on the same epoch.
    """
    tf = runtime.tensorflow()
    keras = runtime.keras()
    strategy = tf.distribute.get_strategy()
    global_batch = batch_size * strategy.num_replicas_in_sync
    per_example = keras.losses.SparseCategoricalCrossentropy(reduction="none")
    variables = model.trainable_variables
    with strategy.scope():
        model.optimizer.build(variables)

    @tf.function
    def train_step(xb: Any, yb: Any) -> tuple[Any, Any]:
        def on_replica(xb: Any, yb: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                probs = model(xb, training=True)
                loss = tf.nn.compute_average_loss(
                    per_example(yb, probs), global_batch_size=global_batch
                )
            model.optimizer.apply_gradients(
                zip(tape.gradient(loss, variables), variables, strict=True)
            )
            hits = tf.reduce_sum(
                tf.cast(tf.equal(tf.argmax(probs, -1), tf.cast(yb, tf.int64)), tf.float32)
            )
            return loss, hits

        loss, hits = strategy.run(on_replica, args=(xb, yb))
        return strategy.reduce("SUM", loss, axis=None), strategy.reduce("SUM", hits, axis=None)

    @tf.function
    def predict(xb: Any) -> Any:
        return model(xb, training=False)

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed)
    batches = strategy.experimental_distribute_dataset(data.batch(global_batch))
    for callback in callbacks:
        callback.set_model(model)
    model.stop_training = False
    for epoch in range(epochs):
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        losses, hits = [], 0.0
        for step, (xb, yb) in enumerate(batches):
            loss, correct = train_step(xb, yb)
            losses.append(float(loss))
            hits += float(correct)
            for callback in callbacks:
                callback.on_train_batch_end(step)
        probs = np.asarray(predict(tf.constant(val[0])))
        logs = {
            "loss": float(np.mean(losses)),
            "accuracy": hits / len(x),
            "val_loss": float(
                -np.mean(np.log(np.clip(probs[np.arange(len(val[1])), val[1]], 1e-7, 1)))
            ),
            "val_accuracy": float(np.mean(probs.argmax(axis=1) == val[1])),
        }
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        if model.stop_training:
            break


def _compile(model: Any, rate: float) -> None:
    keras = runtime.keras()

    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def _image_dataset(
    pixels: np.ndarray, labels: np.ndarray, batch_size: int, shuffle: bool, seed: int
) -> Any:
    tf = runtime.tensorflow()
    data = tf.data.Dataset.from_tensor_slices((pixels, labels))
    if shuffle:
        data = data.shuffle(len(pixels), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(2)


# --- The run ---------------------------------------------------------------------------------


def train(
    dataset: Dataset,
    config: TrainConfig,
    weights: WeightsSource,
    *,
    stop: threading.Event | None = None,
    on_progress: ProgressFn = _noop,
    on_epoch: EpochFn = _noop,
    feature_dir: Path | None = None,
) -> TrainResult:
    """Trains a new head (and optionally the top of the backbone) on ``dataset``.

    Args:
        dataset: A checked dataset (``datasets.extract_dataset``).
        config: Settings; validated here.
        weights: Where the backbone's weights come from.
        stop: Set it to end training within one batch; the best weights so far are kept.
        on_progress: Called per batch (and per image while loading).
        on_epoch: Called with each epoch's metrics.
        feature_dir: Also keep cached features as files here (the dataset's own job
            folder), so a later run in another process finds them.

    Raises:
        ValueError: a bad setting.
        TrainingStopped: stopped before a single epoch finished (no model to keep).
        MissingWeightsError: the backbone's weights are not available.
    """
    keras = runtime.keras()

    config.validated()
    spec, size = config.spec, config.size
    started = time.perf_counter()
    keras.utils.set_random_seed(config.seed)

    paths, labels = dataset.samples()
    train_idx, val_idx = stratified_split(labels, config.val_split, config.seed)
    pooled = config.head != "dense_dropout"
    key = (
        dataset.digest,
        spec.name,
        size,
        str(weights),
        pooled,
        config.seed if weights.is_random else None,
    )
    feature_file = (
        feature_dir / f"{hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest()}.npy"
        if feature_dir is not None
        else None
    )
    features = FEATURES.get(key) if config.uses_cached_features else None
    if features is None and config.uses_cached_features and feature_file is not None:
        with contextlib.suppress(OSError, ValueError):
            features = np.load(feature_file)
    clock = run_plan(config, len(paths), len(val_idx), cached=features is not None)
    on_progress = _timed(on_progress, clock)  # every phase's progress, with the whole ETA
    pixels = load_pixels(paths, size, stop, on_progress)
    n_classes = len(dataset.classes)
    history: list[EpochLog] = []
    fit = functools.partial(
        _fit,
        steps=-(-len(train_idx) // config.batch_size),
        config=config,
        stop=stop,
        on_progress=on_progress,
        on_epoch=on_epoch,
        history=history,
    )

    @functools.cache
    def image_data() -> tuple[tuple[Any, None], Any]:
        """Training and validation pipelines over the images, built once if a stage needs them."""
        train_data = _image_dataset(
            pixels[train_idx], labels[train_idx], config.batch_size, True, config.seed
        )
        return (train_data, None), _image_dataset(
            pixels[val_idx], labels[val_idx], config.batch_size, False, 0
        )

    feature_seconds = images_per_second = 0.0

    with _strategy().scope():
        on_progress(Progress("building the backbone", 0, 1))
        backbone = build_backbone(spec, weights, size)
        pre = preprocessing_layer(spec)
        head = head_layers(config.head, n_classes, config.seed)
        pixels_in = keras.Input((size, size, 3), name="pixels")  # raw RGB, 0-255
        x = backbone(pre(pixels_in), training=False)  # BatchNorm stays in inference mode
        for layer in head:
            x = layer(x)
        model = keras.Model(pixels_in, x, name=f"{spec.name}_{config.head}")

        if config.uses_cached_features:
            if features is None:
                feature_start = time.perf_counter()
                features, images_per_second = extract_features(
                    backbone, spec, pixels, config.batch_size, pooled, stop, on_progress
                )
                feature_seconds = time.perf_counter() - feature_start
                FEATURES.put(key, features)
                if feature_file is not None:
                    with contextlib.suppress(OSError):
                        feature_file.parent.mkdir(exist_ok=True)
                        np.save(feature_file, features)
            features_in = keras.Input(features.shape[1:], name="features")
            y = features_in
            for layer in head[1:]:  # the head's first layer is the pooling / flatten
                y = layer(y)
            head_model = keras.Model(features_in, y, name="head")
            _compile(head_model, config.learning_rate)
            best = _BestWeights(head_model)
            stopped = fit(
                head_model,
                (features[train_idx], labels[train_idx]),
                (features[val_idx], labels[val_idx]),
                epochs=config.epochs,
                phase="training head",
                best=best,
                batch_size=config.batch_size,
            )
        else:
            train_model = _with_augmentation(model, pixels_in, config)
            _compile(train_model, config.learning_rate)
            best = _BestWeights(train_model)
            stopped = fit(
                train_model, *image_data(), epochs=config.epochs, phase="training head", best=best
            )
        if not history:
            raise TrainingStopped("stopped before the first epoch finished")

        if config.unfreeze > 0 and not stopped:
            _unfreeze_top(backbone, config.unfreeze)
            train_model = _with_augmentation(model, pixels_in, config)
            _compile(train_model, config.learning_rate * FINE_TUNE_RATE_FACTOR)
            best = _BestWeights(
                train_model,
                best=min(h.val_loss for h in history),
                weights=train_model.get_weights(),
            )
            stopped = fit(
                train_model,
                *image_data(),
                epochs=config.fine_tune_epochs,
                phase="fine-tuning",
                best=best,
            )
        backbone.trainable = False

    on_progress(Progress("evaluating", 0, 1))
    evaluation = evaluate(
        model, pixels[val_idx], labels[val_idx], dataset.classes, config.batch_size
    )
    on_progress(Progress("evaluating", 1, 1))
    # Weights kept: those of the epoch with the lowest validation loss, over both stages.
    best_epoch = 1 + int(np.nanargmin([h.val_loss for h in history]))
    return TrainResult(
        model=model,
        classes=dataset.classes,
        config=config,
        weights=weights,
        history=history,
        evaluation=evaluation,
        stopped=stopped,
        best_epoch=best_epoch,
        seconds=time.perf_counter() - started,
        feature_seconds=feature_seconds,
        feature_images_per_second=images_per_second,
    )


def _with_augmentation(model: Any, pixels_in: Any, config: TrainConfig) -> Any:
    """The model to fit: ``model`` itself, or flip/rotation/zoom in front of it."""
    keras = runtime.keras()

    if not config.augment:
        return model
    augment = keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=config.seed),
            keras.layers.RandomRotation(0.1, seed=config.seed),
            keras.layers.RandomZoom(0.1, seed=config.seed),
        ],
        name="augment",
    )
    inp = keras.Input(pixels_in.shape[1:], name="pixels")
    return keras.Model(inp, model(augment(inp)), name=f"{model.name}_augmented")


def _unfreeze_top(backbone: Any, n_layers: int) -> None:
    keras = runtime.keras()

    backbone.trainable = True
    layers = backbone.layers
    for i, layer in enumerate(layers):
        frozen_part = i < len(layers) - n_layers
        layer.trainable = not frozen_part and not isinstance(layer, keras.layers.BatchNormalization)


def evaluate(
    model: Any, pixels: np.ndarray, labels: np.ndarray, classes: Sequence[str], batch_size: int = 32
) -> Evaluation:
    """Judges ``model`` (raw pixels in) on held-out images."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    # A compiled function: an eager model(...) call grew the process by gigabytes (Xception
    # at 299, batches of 32) and never gave them back. predict_on_batch is one; across
    # machines it returns every worker's copy of the batch, so a plain tf.function serves.
    predict = model.predict_on_batch
    if os.environ.get("TF_CONFIG"):
        predict = runtime.tensorflow().function(lambda x: model(x, training=False))
    probs = np.concatenate(
        [
            np.asarray(predict(np.asarray(pixels[i : i + batch_size], np.float32)))
            for i in range(0, len(pixels), batch_size)
        ]
    )
    n = len(classes)
    pred = probs.argmax(axis=1)
    eps = 1e-7
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], eps, 1))))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, pred, labels=list(range(n)), zero_division=0
    )
    return Evaluation(
        accuracy=float(np.mean(pred == labels)),
        loss=loss,
        confusion=confusion_matrix(labels, pred, labels=list(range(n))),
        per_class=tuple(
            ClassReport(
                classes[i], float(precision[i]), float(recall[i]), float(f1[i]), int(support[i])
            )
            for i in range(n)
        ),
        probabilities=probs,
        labels=labels,
        thumbnails=tuple(thumbnail(p, 128) for p in pixels),
    )
