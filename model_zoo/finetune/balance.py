"""Class weighting's "before": with ``class_weighted`` on, the run also trains the same
head on the same cached features without the weights, so the results page can show each
class's test recall both ways (the weighted one is the run's own)."""

from __future__ import annotations

import numpy as np

from model_zoo import runtime
from model_zoo.finetune.model import head_layers
from model_zoo.finetune.settings import TrainConfig
from model_zoo.finetune.split import Split


def unweighted_recall(
    config: TrainConfig, features: np.ndarray, labels: np.ndarray, split: Split, n_classes: int
) -> tuple[float, ...]:
    """Each class's recall on the test split of the head trained without class weights:
    the same seed, epochs, rate and early stopping (best validation epoch kept)."""
    keras = runtime.keras()
    keras.utils.set_random_seed(config.seed)
    features_in = keras.Input(features.shape[1:])
    x = features_in
    for layer in head_layers(config.head, n_classes, config.seed)[1:]:
        x = layer(x)
    head = keras.Model(features_in, x)
    head.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
    )
    callbacks = []
    if config.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=config.patience, restore_best_weights=True
            )
        )
    head.fit(
        features[split.train],
        labels[split.train],
        validation_data=(features[split.val], labels[split.val]),
        epochs=config.epochs,
        batch_size=config.batch_size,
        verbose=0,
        callbacks=callbacks,
    )
    predicted = head.predict(features[split.test], verbose=0).argmax(1)
    truth = labels[split.test]
    return tuple(
        float((predicted[truth == c] == c).mean()) if (truth == c).any() else float("nan")
        for c in range(n_classes)
    )


__all__ = ["unweighted_recall"]
