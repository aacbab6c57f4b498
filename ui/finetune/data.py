"""The data half of the Fine-tune page: what was uploaded, how it splits, and what the
ImageNet models already see in each class."""

from __future__ import annotations

import streamlit as st

from model_zoo.compare.precheck import DEFAULT_PER_CLASS, imagenet_precheck
from model_zoo.datasets import Dataset
from model_zoo.finetune.calibration import wilson_interval
from model_zoo.finetune.split import dataset_split
from model_zoo.registry import MODELS
from model_zoo.untrusted import md
from model_zoo.wording import model_count, percent, percent_range
from ui.charts import counts_figure
from ui.models import get_classifiers

IMBALANCE_WARNING = 3.0
SMALL_TEST = 30  # fewer test images than this: the page says how wide the interval is


def data_summary(dataset: Dataset, name: str) -> None:
    """Classes, counts, thumbnails, an imbalance warning and the files skipped."""
    st.subheader("Your data")
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"**{len(dataset.classes)} classes, {dataset.size} images** from {md(name)}")
        st.plotly_chart(
            counts_figure(dataset.counts), key="counts", config={"displayModeBar": False}
        )
        if dataset.imbalance() >= IMBALANCE_WARNING:
            st.warning(
                f"Imbalanced classes: the largest has {dataset.imbalance():.1f}× the images "
                "of the smallest. Accuracy can look good while the small classes are "
                "mostly wrong; watch their recall in the results."
            )
        if dataset.skipped:
            with st.expander(f"{len(dataset.skipped)} files skipped"):
                st.dataframe(
                    [{"file": n, "why": why} for n, why in dataset.skipped], hide_index=True
                )
    with right:
        for name, files in zip(dataset.classes, dataset.files, strict=True):
            st.markdown(f"**{md(name)}** · {len(files)} images")
            st.image([str(p) for p in files[:6]], width=72)


def split_caption(
    where: object, dataset: Dataset, val: float, test: float, seed: int, keep_copies: bool = True
) -> None:
    """The split's sizes, and a word when the test split is too small to say much."""
    try:
        n_train, n_val, n_test = dataset_split(dataset, val, test, seed, keep_copies).sizes()
    except ValueError as err:
        where.warning(str(err))  # type: ignore[attr-defined]
        return
    where.caption(  # type: ignore[attr-defined]
        f"Split: **{n_train}** train · **{n_val}** validation · **{n_test}** test "
        "(stratified per class, seeded)."
    )
    if n_test < SMALL_TEST:
        low, high = wilson_interval(n_test, n_test)
        where.caption(  # type: ignore[attr-defined]
            f"⚠️ Only {n_test} test images: even a perfect score has a 95% interval of "
            f"{percent_range(low, high)}. More images per class give a firmer number."
        )


def precheck_panel(dataset: Dataset, random_weights: bool) -> None:
    """Before training: the ImageNet models' top labels per class, and classes that collapse
    onto the same label (run on a click: it loads the Compare models)."""
    with st.expander("🔎 Before training: what ImageNet already sees in your classes"):
        st.caption(
            f"The {model_count()} ImageNet models look at the first {DEFAULT_PER_CLASS} images "
            "of each class. Classes they see as the same thing are the ones a fine-tuned "
            "model will most likely confuse."
        )
        if random_weights:
            st.caption("⚠️ Random weights: these ImageNet labels are meaningless.")
        if st.button("Look with the ImageNet models", key="precheck", icon="🔎"):
            classifiers, failed = get_classifiers(list(MODELS))
            if not classifiers:
                st.warning(
                    "No ImageNet model is loaded: "
                    + "; ".join(f"{MODELS[n].display_name}: {s.detail}" for n, s in failed.items())
                )
                return
            st.session_state.precheck_result = (
                dataset.digest,
                imagenet_precheck(dataset, classifiers),
            )
        stored = st.session_state.get("precheck_result")
        if not stored or stored[0] != dataset.digest:
            return
        check = stored[1]
        st.dataframe(
            [
                {
                    "class": view.name,
                    **{
                        f"ImageNet #{i + 1}": f"{label} ({percent(share)})"
                        for i, (label, share) in enumerate(view.top)
                    },
                }
                for view in check.classes
            ],
            hide_index=True,
            key="precheck_table",
        )
        if random_weights:  # the labels above are noise: nothing is concluded from them
            st.caption("With random weights no conclusion is drawn from these labels.")
            return
        for a, b, label in check.collisions:
            st.warning(
                f"**{md(a)}** and **{md(b)}** both look most like *{label}* to ImageNet: expect "
                "them to be confused; more (or more varied) images of each help."
            )
        if not check.collisions:
            st.caption("No two classes share their most-voted ImageNet label.")
