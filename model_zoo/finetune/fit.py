"""Fitting one stage of a run: Keras' ``fit`` with callbacks for live progress, Stop and the
best epoch's weights, or, across machines, a small loop that drives the same callbacks.

Importing this module imports TensorFlow and Keras (the training process does; the app's
pages never import it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model_zoo import runtime
from model_zoo.finetune.evaluation import cross_entropy
from model_zoo.finetune.events import EpochFn, EpochLog, Phase, Progress, ProgressFn
from model_zoo.finetune.model import FineTuned, Head
from model_zoo.finetune.settings import FINE_TUNE_RATE_FACTOR, TrainConfig, TrainingStopped

tf = runtime.tensorflow()
keras = runtime.keras()
_Callback: Any = keras.callbacks.Callback  # a module imported at run time: typed as Any


class LiveProgress(_Callback):
    """Per-batch progress, per-epoch logs, and the Stop button within one batch."""

    def __init__(self, phase: Phase, epochs: int, steps: int, stages: Stages) -> None:
        super().__init__()
        self.phase, self.epochs, self.steps, self.stages = phase, epochs, steps, stages
        self.epoch_offset = len(stages.history)
        self.epoch, self.epoch_start = 0, time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch, self.epoch_start = epoch, time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self._report(batch, self.steps, False)

    def _report(self, batch: int, total: int, validating: bool) -> None:
        if self.stages.stop is not None and self.stages.stop.is_set():
            raise TrainingStopped
        self.stages.on_progress(
            Progress(
                self.phase,
                batch + 1,
                total,
                self.epoch + 1,
                self.epochs,
                validating=validating,
            )
        )

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        logs = logs or {}
        entry = EpochLog(
            self.phase,
            self.epoch_offset + epoch + 1,
            float(logs.get("loss", np.nan)),
            float(logs.get("accuracy", np.nan)),
            float(logs.get("val_loss", np.nan)),
            float(logs.get("val_accuracy", np.nan)),
            time.perf_counter() - self.epoch_start,
        )
        self.stages.history.append(entry)
        self.stages.on_epoch(entry)


class LiveValidation(LiveProgress):
    """``LiveProgress`` with the validation pass reported batch by batch, as its own step:
    for stages on images, where it takes seconds. (On cached features it takes
    milliseconds, and a batch hook would make Keras fetch every batch's logs.)"""

    def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
        self._report(batch, self.stages.val_steps, True)


class KeepBest(_Callback):
    """Keeps the weights of the epoch with the lowest validation loss (fastai's
    SaveModelCallback); ``restore`` puts them back, whether the stage finished or stopped.

    A later stage starts from the earlier stage's best loss and weights, so the run keeps
    the best epoch over both.
    """

    def __init__(self, best: float = np.inf, weights: list | None = None) -> None:
        super().__init__()
        self.best, self.best_weights = best, weights

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        loss = float((logs or {}).get("val_loss", np.inf))
        if loss < self.best:
            self.best, self.best_weights = loss, self.model.get_weights()

    def restore(self, model: Any) -> None:
        if self.best_weights is not None:
            model.set_weights(self.best_weights)


@dataclass
class Stages:
    """What the stages of one run share: its settings and split, Stop, reporting and the
    history of every epoch."""

    config: TrainConfig
    labels: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    stop: threading.Event | None
    on_progress: ProgressFn
    on_epoch: EpochFn
    history: list[EpochLog] = field(default_factory=list)
    stopped: bool = False
    _images: tuple[Any, Any] | None = None

    @property
    def steps(self) -> int:
        """Batches in one training epoch."""
        return -(-len(self.train_idx) // self.config.batch_size)

    @property
    def val_steps(self) -> int:
        """Batches in one validation pass."""
        return -(-len(self.val_idx) // self.config.batch_size)

    def class_weight(self) -> dict[int, float] | None:
        """With ``class_weighted``: each class's weight, the training split's size over
        (classes × its count), as Keras' ``class_weight`` takes it; else None."""
        if not self.config.class_weighted:
            return None
        counts = np.bincount(self.labels[self.train_idx], minlength=int(self.labels.max()) + 1)
        total, present = counts.sum(), int((counts > 0).sum())
        return {c: float(total / (present * n)) for c, n in enumerate(counts) if n}

    def head_on_features(self, parts: FineTuned | Head, features: np.ndarray) -> Any:
        """The first stage on cached backbone features: only the head trains. Returns the
        head as a model on features (it shares its layers with ``parts.model``)."""
        train, val, labels = self.train_idx, self.val_idx, self.labels
        head = parts.head_model(features.shape[1:])
        self.fit(
            head,
            features[train],
            labels[train],
            (features[val], labels[val]),
            phase="training head",
            epochs=self.config.epochs,
            rate=self.config.learning_rate,
        )
        return head

    def on_images(self, parts: FineTuned, pixels: np.ndarray, phase: Phase) -> None:
        """A stage on images (augmented if asked): the head, or with ``"fine-tuning"`` the
        unfrozen top of the backbone too, at a tenth of the rate, keeping the best epoch of
        both stages."""
        if self._images is None:  # built once, for whichever stages need them
            config, labels = self.config, self.labels
            self._images = (
                image_dataset(
                    pixels[self.train_idx],
                    labels[self.train_idx],
                    config.batch_size,
                    True,
                    config.seed,
                ),
                image_dataset(
                    pixels[self.val_idx], labels[self.val_idx], config.batch_size, False, 0
                ),
            )
        model = parts.with_augmentation(self.config)
        tuning = phase == "fine-tuning"
        keep = (
            KeepBest(min(h.val_loss for h in self.history), model.get_weights()) if tuning else None
        )
        self.fit(
            model,
            self._images[0],
            None,
            self._images[1],
            phase=phase,
            epochs=self.config.fine_tune_epochs if tuning else self.config.epochs,
            rate=self.config.learning_rate * (FINE_TUNE_RATE_FACTOR if tuning else 1.0),
            keep=keep,
        )

    def fit(
        self,
        model: Any,
        x: Any,
        y: Any,
        validation: Any,
        *,
        phase: Phase,
        epochs: int,
        rate: float,
        keep: KeepBest | None = None,
    ) -> None:
        """Compiles and fits ``model`` (arrays, or a ``tf.data`` pipeline with ``y`` None),
        then restores its best epoch's weights; sets ``stopped`` when Stop ended it."""
        model.compile(
            optimizer=keras.optimizers.Adam(rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        keep = keep or KeepBest()
        live = LiveProgress if y is not None else LiveValidation  # arrays: cached features
        callbacks = [live(phase, epochs, self.steps, self), keep]
        if self.config.early_stopping:
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.config.patience)
            )
        arrays = y is not None
        try:
            if _multi_worker():
                _fit_multi_worker(model, x, y, validation, epochs, self.config, callbacks)
            else:
                model.fit(
                    x,
                    y,
                    validation_data=validation,
                    epochs=epochs,
                    batch_size=self.config.batch_size if arrays else None,
                    verbose=0,
                    shuffle=arrays,  # tf.data pipelines are shuffled by themselves
                    class_weight=self.class_weight(),
                    callbacks=callbacks,
                )
            self.stopped = False
        except TrainingStopped:
            self.stopped = True
        keep.restore(model)


def image_dataset(
    pixels: np.ndarray, labels: np.ndarray, batch_size: int, shuffle: bool, seed: int
) -> Any:
    """A ``tf.data`` pipeline of (float pixels, label) batches."""
    data = tf.data.Dataset.from_tensor_slices((pixels, labels))
    if shuffle:
        data = data.shuffle(len(pixels), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(2)


def _multi_worker() -> bool:
    return isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)


def _fit_multi_worker(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    val: tuple[np.ndarray, np.ndarray],
    epochs: int,
    config: TrainConfig,
    callbacks: list[Any],
) -> None:
    """``model.fit`` for several machines, on arrays (cached features).

    Keras 3's ``fit`` does not run under ``MultiWorkerMirroredStrategy`` (keras-team/keras
    #20585), so this loop does its job: each worker takes its shard of every global batch,
    the optimizer sums the gradients across workers, and Keras' own callbacks see the same
    events. Every worker holds the whole validation split, so all stop on the same epoch.
    """
    strategy = tf.distribute.get_strategy()
    global_batch = config.batch_size * strategy.num_replicas_in_sync
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
            gradients = tape.gradient(loss, variables)
            model.optimizer.apply_gradients(zip(gradients, variables, strict=True))
            right = tf.equal(tf.argmax(probs, -1), tf.cast(yb, tf.int64))
            return loss, tf.reduce_sum(tf.cast(right, tf.float32))

        loss, hits = strategy.run(on_replica, args=(xb, yb))
        return strategy.reduce("SUM", loss, axis=None), strategy.reduce("SUM", hits, axis=None)

    @tf.function
    def predict(xb: Any) -> Any:
        return model(xb, training=False)

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=config.seed)
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
            "val_loss": cross_entropy(probs, val[1]),
            "val_accuracy": float(np.mean(probs.argmax(axis=1) == val[1])),
        }
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
