"""Where a dataset comes from: a zip, classes made in the page (uploads and camera shots),
a dropped folder of class folders, or the synthetic sample. Every way ends as the bytes of
a zip of class folders, checked by the same reader (``ui.finetune.runs.prepare``)."""

from __future__ import annotations

import streamlit as st

from model_zoo.limits import MAX_PHOTO_MB, MAX_UPLOAD_MB
from model_zoo.photo_set import PhotoSet
from model_zoo.sample import SAMPLE_CLASSES, SAMPLE_NAME, SAMPLE_PER_CLASS, sample_zip
from model_zoo.untrusted import md
from ui.finetune.classes import BUILT_KEY, classes_ui

WAYS = ["Upload a zip", "Make classes here", "Drop a folder", "Try the sample"]


def _zip_ui() -> tuple[str, bytes] | None:
    upload = st.file_uploader(
        "Dataset: a .zip of class folders", key="dataset_zip", max_upload_size=MAX_UPLOAD_MB
    )
    if upload is None:
        st.info(
            f"Upload a zip to start (up to {MAX_UPLOAD_MB} MB). One folder per class, at least "
            "2 classes and 5 images in each; a single wrapping folder is fine. JPEG, PNG, WebP, "
            f"GIF, BMP and TIFF photos up to {MAX_PHOTO_MB} MB each are read; other files are "
            "skipped and listed."
        )
        return None
    return upload.name, upload.getvalue()


def _folder_ui() -> tuple[str, bytes] | None:
    files = st.file_uploader(
        "A folder whose sub-folders are the classes",
        accept_multiple_files="directory",
        key="dataset_folder",
        max_upload_size=MAX_PHOTO_MB,
    )
    if not files:
        st.info("Pick a folder such as `my_photos/` holding `cats/…` and `dogs/…`.")
        return None
    photos = PhotoSet()
    skipped = photos.add_folder([(f.name, f.getvalue()) for f in files])
    for name, why in skipped[:20]:
        st.caption(f"Skipped {md(name)}: {md(why)}")
    top = files[0].name.replace("\\", "/").split("/")[0] or "folder"
    return f"{top}.zip", photos.to_zip()


def _sample_ui() -> tuple[str, bytes] | None:
    st.info(
        f"A **synthetic** sample drawn by this app (no photos are downloaded): "
        f"{len(SAMPLE_CLASSES)} classes ({', '.join(SAMPLE_CLASSES)}), {SAMPLE_PER_CLASS} "
        "images each, shapes of varied size and place on varied backgrounds, each class in "
        "its own hues. It shows the whole flow in a minute; it is not real data."
    )
    if st.button("Load the sample", icon="🧪", key="load_sample"):
        st.session_state[BUILT_KEY] = (SAMPLE_NAME, sample_zip())
    built = st.session_state.get(BUILT_KEY)
    return built if built is not None and built[0] == SAMPLE_NAME else None


def data_source_ui() -> tuple[str, bytes] | None:
    """The way in the visitor picks, and its dataset as ``(name, zip bytes)`` once there
    is one."""
    way = st.segmented_control("Your data", WAYS, default=WAYS[0], key="data_way")
    if way == WAYS[1]:
        return classes_ui()
    if way == WAYS[2]:
        return _folder_ui()
    if way == WAYS[3]:
        return _sample_ui()
    return _zip_ui()


__all__ = ["WAYS", "data_source_ui"]
