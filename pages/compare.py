"""Compare: every model's top-5 on the same photo, side by side, and where they agree."""

from collections.abc import Callable

import numpy as np
import streamlit as st

from model_zoo.compare.loading import ModelState
from model_zoo.examples import EXAMPLES, get_example
from model_zoo.gradcam import DEFAULT_OPACITY
from model_zoo.images import DISPLAY_SIDE, RESIZE_MODES, ImageError, load_image, thumbnail, tile
from model_zoo.labels import pretty_label
from model_zoo.limits import MAX_PHOTO_MB
from model_zoo.registry import MODELS
from model_zoo.untrusted import md
from model_zoo.weights import where_to_put
from model_zoo.wording import model_count, percent
from ui.batch import imagenet_batch_panel
from ui.common import page_setup, plural, short_name, show_readiness, state_text
from ui.compare_panels import ExplainSettings, show_comparison
from ui.models import compare_images, get_classifiers, prepare_explain, retry_failed_loads

MAX_IMAGES = 12
RESIZE_LABELS = {
    "squash": "Squash the whole photo (Keras default)",
    "crop": "Centre-crop a square first",
}

if page_setup("Compare", "🔍") is None:
    st.stop()

st.title("🔍 Compare")
st.caption(
    f"One photo, {model_count()} ImageNet classics: each model's five best guesses, how "
    "long it took, and where the models agree."
)

with st.sidebar:
    names = st.multiselect(
        "Models", list(MODELS), default=list(MODELS), format_func=lambda n: MODELS[n].display_name
    )
    show_readiness(names)
    resize_mode = st.radio(
        "Resize to the model's input", RESIZE_MODES, format_func=RESIZE_LABELS.get
    )
    st.divider()
    explain_on = st.toggle(
        "Explain (Grad-CAM)",
        key="explain",
        help="Under each model, where it looked: a heatmap of the regions "
        "that raised the score of the class explained.",
    )
    explain_status = st.empty()  # the first Explain's loading, where the switch is
    if explain_on:
        opacity = st.slider("Heatmap opacity", 0.0, 1.0, DEFAULT_OPACITY, 0.05)
        picked_class = st.selectbox(
            "Class explained",
            [None, *range(1000)],
            key="explain_class",
            format_func=lambda i: "each model's own top-1" if i is None else pretty_label(i),
            help="Or click a bar in a model's top-5 to explain that class for that model.",
        )

# --- Photo input -----------------------------------------------------------------------
where = st.radio(
    "Photo",
    ["Example photos", "Upload", "Camera", "A zip of many photos"],
    horizontal=True,
    key="photo_source",
)
inputs: list[tuple[str, Callable[[], bytes]]] = []  # name, how to read it
if where == "Example photos":
    for column, example in zip(st.columns(len(EXAMPLES)), EXAMPLES, strict=True):
        with column:  # equal tiles, so the buttons line up whatever the photos' shapes
            if st.button(example.title, key=f"example-{example.key}", width="stretch", icon="👉"):
                st.session_state.example = example.key
            st.image(
                tile(load_image(example.read_bytes()), 320, 240),
                caption=example.credit,
                width="stretch",
            )
    if "example" in st.session_state:
        chosen = get_example(st.session_state.example)
        inputs = [(chosen.title, chosen.read_bytes)]
elif where == "Upload":
    # Any file: the decoder decides by the bytes and says why it refuses one.
    files = st.file_uploader(
        "Photos (several at once are fine)",
        accept_multiple_files=True,
        max_upload_size=MAX_PHOTO_MB,  # the hint under it states the real cap
    )
    inputs = [(f.name, f.getvalue) for f in files or []]
elif where == "Camera":
    shot = st.camera_input("Take a photo")
    if shot is not None:
        inputs = [("camera photo", shot.getvalue)]

# The cap counts usable photos; files after the twelfth usable one are never read.
photos: list[np.ndarray] = []
names_ok: list[str] = []
for position, (name, read) in enumerate(inputs):
    if len(photos) == MAX_IMAGES:
        st.warning(
            f"{len(inputs)} files given; comparing the first {MAX_IMAGES} usable photos "
            f"({plural(len(inputs) - position, 'file')} not read)."
        )
        break
    try:
        photos.append(load_image(read(), max_side=DISPLAY_SIDE))
        names_ok.append(name)
    except ImageError as err:
        st.warning(f"**{md(name)}** skipped: {md(err)}.")
del inputs  # uploads are not kept past decoding

if not photos and where != "A zip of many photos":
    st.info("Pick an example photo, upload your own, or take one with the camera.")
    st.stop()
if not names:
    st.info("Choose at least one model in the sidebar.")
    st.stop()

# --- Models and inference ----------------------------------------------------------------
waiting = st.empty()


def show_waiting(states: list[ModelState]) -> None:
    ready = sum(s.done for s in states)
    busy = next(s for s in states if not s.done)
    waiting.progress(
        ready / len(states),
        text=f"Getting the models ready ({ready} of {len(states)}): "
        f"{MODELS[busy.name].display_name} {state_text(busy).split(' ', 1)[1]}…",
    )


classifiers, failed = get_classifiers(names, on_wait=show_waiting)
waiting.empty()
missing = [MODELS[n] for n, s in failed.items() if s.missing]
if missing:
    listed = "\n".join(f"- **{spec.display_name}**: {failed[spec.name].detail}" for spec in missing)
    urls = "\n".join(spec.weights_url() for spec in missing)
    st.error(
        f"**Weights are missing for {len(missing)} of {len(names)} models.**\n\n{listed}"
        f"\n\nDownload {'it' if len(missing) == 1 else 'them'}:\n```text\n{urls}\n```\n"
        f"{where_to_put(len(missing))}",
        icon="📦",
    )
for name, state in failed.items():
    if not state.missing:
        st.error(f"**{MODELS[name].display_name}** could not be loaded: {state.detail}", icon="⚠️")
if failed and st.button("Retry loading the missing models"):
    retry_failed_loads(list(failed))
    st.rerun()
if not classifiers:
    st.stop()

if where == "A zip of many photos":
    imagenet_batch_panel(classifiers)
    st.stop()

with st.spinner("Classifying…"):
    results = compare_images(classifiers, photos, 5, resize_mode)


explain = ExplainSettings(explain_on, opacity, picked_class) if explain_on else ExplainSettings()
if explain_on:
    prepare_explain(classifiers, explain_status)
if len(photos) == 1:
    left, _ = st.columns([1, 3])
    left.image(thumbnail(photos[0], 320), caption=md(short_name(names_ok[0], 40)))
    show_comparison(results[0], photos[0], classifiers, explain, resize_mode)
else:
    st.subheader(f"{len(photos)} photos: each model's first choice")
    widths = [1] * (len(classifiers) + 1)  # the photo column as wide as a model column
    header = st.columns(widths)
    header[0].markdown("**Photo**")
    for cell, classifier in zip(header[1:], classifiers, strict=True):
        cell.markdown(f"**{classifier.spec.display_name}**")
    for i, (photo, result) in enumerate(zip(photos, results, strict=True)):
        row = st.columns(widths)
        row[0].image(thumbnail(photo, 128), caption=md(short_name(names_ok[i], 16)))
        for cell, pred in zip(row[1:], result.predictions, strict=True):
            cell.markdown(f"{pred.top[0].pretty}  \n`{percent(pred.top[0].score)}`")
    st.divider()
    pick = st.selectbox("Details for", range(len(photos)), format_func=names_ok.__getitem__)
    show_comparison(results[pick], photos[pick], classifiers, explain, resize_mode)
