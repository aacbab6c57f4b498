"""The run's settings: backbone and head (or a leaderboard's grid), the training sliders,
the image size and the optional stages; ``TrainConfig()``'s defaults throughout."""

from __future__ import annotations

from typing import Any

import streamlit as st

from model_zoo.datasets import Dataset
from model_zoo.finetune.settings import HEADS, Grid, TrainConfig
from model_zoo.registry import MODELS
from ui.finetune.data import split_caption


def _grid_ui(where: Any) -> tuple[str, str, Grid]:
    models, heads = list(MODELS), list(HEADS)
    backbones = where.multiselect(
        "Backbones", models, default=models, format_func=lambda n: MODELS[n].display_name
    )
    picked = where.multiselect("Heads", heads, default=heads, format_func=lambda h: HEADS[h])
    where.caption(
        f"{len(backbones) * len(picked)} combinations: one feature pass per backbone, then "
        "every head on its features."
    )
    return (backbones or models)[0], (picked or heads)[0], (backbones, picked)


def _model_ui(where: Any, defaults: TrainConfig) -> tuple[str, str]:
    models, heads = list(MODELS), list(HEADS)
    backbone = where.selectbox(
        "Backbone",
        models,
        index=models.index(defaults.backbone),
        format_func=lambda n: MODELS[n].display_name,
    )
    head = where.radio(
        "Head", heads, index=heads.index(defaults.head), format_func=lambda h: HEADS[h]
    )
    return backbone, head


def _training_ui(where: Any, dataset: Dataset, defaults: TrainConfig) -> dict[str, Any]:
    chosen = {
        "epochs": where.slider("Epochs", 1, 50, defaults.epochs),
        "batch_size": where.select_slider(
            "Batch size", [8, 16, 32, 64, 128], value=defaults.batch_size
        ),
        "learning_rate": where.select_slider(
            "Learning rate",
            [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
            value=defaults.learning_rate,
            format_func=lambda v: f"{v:g}",
        ),
        "val_split": where.slider(
            "Validation split",
            0.1,
            0.4,
            defaults.val_split,
            0.05,
            help="Picks the best epoch, stops training early and fits the temperature.",
        ),
        "test_split": where.slider(
            "Test split",
            0.05,
            0.3,
            defaults.test_split,
            0.05,
            help="Untouched until training ends, then judged once: the accuracy reported.",
        ),
        "keep_copies_together": where.toggle(
            "Keep copies in one part",
            value=defaults.keep_copies_together,
            help="Exact and near copies of a photo (re-encoded, resized, shifted) go to the "
            "same part of the split, so the test never judges a photo the model trained on.",
        ),
        "class_weighted": where.toggle(
            "Balance the classes",
            value=defaults.class_weighted,
            help="Weigh each class's loss by the inverse of its size (Keras class_weight), so "
            "a small class counts as much as a large one. The results show each class's "
            "recall with and without it.",
        ),
    }
    split_caption(
        where,
        dataset,
        chosen["val_split"],
        chosen["test_split"],
        defaults.seed,
        chosen["keep_copies_together"],
    )
    return chosen


def _stages_ui(where: Any, defaults: TrainConfig) -> dict[str, Any]:
    augment = where.toggle(
        "Augmentation (flip, rotation, zoom)",
        value=defaults.augment,
        help="Off: each image goes through the backbone once and the head trains on cached "
        "features (fast). On: the full model sees fresh variations every epoch (slower).",
    )
    unfreeze = where.number_input(
        "Then fine-tune the top N backbone layers (0 = off)",
        0,
        200,
        defaults.unfreeze,
        help="A second stage at a tenth of the learning rate; BatchNorm stays in inference mode.",
    )
    # Plain widgets, not a form: this one follows the unfreeze setting as it changes.
    fine_tune_epochs = where.number_input(
        "Fine-tuning epochs",
        1,
        50,
        defaults.fine_tune_epochs,
        disabled=unfreeze == 0,
        help="Used when N > 0.",
    )
    return {
        "augment": augment,
        "unfreeze": int(unfreeze),
        "fine_tune_epochs": int(fine_tune_epochs),
    }


def settings_form(dataset: Dataset, leaderboard: bool) -> tuple[TrainConfig, Grid | None] | None:
    """The run's settings, defaulting to ``TrainConfig()``'s; the config (and, for a
    leaderboard, its backbones and heads) when the button is pressed."""
    defaults = TrainConfig()
    grid: Grid | None = None
    with st.container(border=True):
        c1, c2, c3 = st.columns(3)
        if leaderboard:
            backbone, head, grid = _grid_ui(c1)
        else:
            backbone, head = _model_ui(c1, defaults)
        chosen = _training_ui(c2, dataset, defaults)
        image_size = c3.select_slider(
            "Image size",
            [96, 128, 160, 192, 224, 299],
            value=defaults.size,
            help="Smaller is faster. Capped at the backbone's own input size (224 or 299).",
        )
        chosen["early_stopping"] = c3.toggle("Early stopping", value=defaults.early_stopping)
        if leaderboard:
            c3.caption("The leaderboard trains heads on cached features: no augmentation.")
        else:
            chosen.update(_stages_ui(c3, defaults))
            image_size = TrainConfig.fit_size(MODELS[backbone], image_size)
        label = "Run the leaderboard" if leaderboard else "Train"
        if not st.button(label, type="primary", icon="🏁" if leaderboard else "🚀"):
            return None
    return TrainConfig(backbone=backbone, head=head, image_size=image_size, **chosen), grid
