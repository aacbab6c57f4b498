"""Classes made in the page, Teachable Machine's way: name a class, add photos to it by
upload or camera, see a counter per class, remove a shot or a class, then use the set."""

from __future__ import annotations

import streamlit as st

from model_zoo.archive import DatasetError
from model_zoo.limits import MAX_PHOTO_MB
from model_zoo.photo_set import PhotoSet
from model_zoo.untrusted import md

BUILT_KEY = "built_dataset"  # (name, zip bytes) of the set made in the page, or the sample
SET_NAME = "my-classes.zip"
SHOWN = 12  # thumbnails per class


def photo_set() -> PhotoSet:
    """This session's page-made classes (deleted with the session)."""
    if "photo_set" not in st.session_state:
        st.session_state.photo_set = PhotoSet()
    photos: PhotoSet = st.session_state.photo_set
    return photos


def add_photos(photos: PhotoSet, class_name: str, files: list[tuple[str, bytes]]) -> None:
    """Adds files to a class, one error line for the first that does not fit."""
    for name, data in files:
        try:
            photos.add_photo(class_name, name, data)
        except DatasetError as err:
            st.error(f"{md(name)} not added: {md(str(err))}.")
            return


def _new_class_ui(photos: PhotoSet) -> None:
    with st.form("new_class", clear_on_submit=True, border=False):
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        name = left.text_input("New class", placeholder="e.g. cats", max_chars=60)
        if right.form_submit_button("Add class", icon="➕") and name:
            try:
                photos.add_class(name)
            except DatasetError as err:
                st.error(f"{md(str(err))}.")


def _uploader_key(class_name: str) -> str:
    """A fresh key each time the picked files have been added: the widget empties."""
    round_ = st.session_state.setdefault("upload_round", {}).get(class_name, 0)
    return f"class_upload:{class_name}:{round_}"


def _class_ui(photos: PhotoSet, class_name: str, index: int) -> None:
    shots = photos.classes[class_name]
    with st.container(border=True, key=f"class-box-{index}"):
        head, remove = st.columns([4, 1], vertical_alignment="center")
        # Text, not Markdown: a class name is the visitor's data.
        head.text(f"{class_name} · {len(shots)} photo{'s' if len(shots) != 1 else ''}")
        if remove.button("Remove class", key=f"remove_class_{index}"):
            photos.remove_class(class_name)
            st.rerun()
        files = st.file_uploader(
            f"Add photos to {md(class_name)}",
            accept_multiple_files=True,
            key=_uploader_key(class_name),
            max_upload_size=MAX_PHOTO_MB,
            label_visibility="collapsed",
        )
        if files:
            add_photos(photos, class_name, [(f.name, f.getvalue()) for f in files])
            rounds = st.session_state.setdefault("upload_round", {})
            rounds[class_name] = rounds.get(class_name, 0) + 1
            st.rerun()
        if shots:
            st.image([data for _, data in shots[-SHOWN:]], width=64)
            gone = st.selectbox(
                "Remove a photo",
                [None, *range(len(shots))],
                format_func=lambda i: "—" if i is None else shots[i][0],
                key=f"remove_photo_{index}",
            )
            if gone is not None:
                photos.remove_photo(class_name, gone)
                del st.session_state[f"remove_photo_{index}"]
                st.rerun()


def _camera_ui(photos: PhotoSet) -> None:
    names = list(photos.classes)
    target = st.selectbox("Camera shots go to", names, key="camera_class")
    shot = st.camera_input("Take a photo", key=f"camera:{st.session_state.get('camera_round', 0)}")
    if shot is not None and target is not None:
        n = len(photos.classes[target]) + 1
        add_photos(photos, target, [(f"shot-{n:03d}.jpg", shot.getvalue())])
        st.session_state.camera_round = st.session_state.get("camera_round", 0) + 1
        st.rerun()


def classes_ui() -> tuple[str, bytes] | None:
    """The panel; ``(name, zip bytes)`` once "Use these classes" was pressed."""
    photos = photo_set()
    _new_class_ui(photos)
    for index, class_name in enumerate(list(photos.classes)):
        _class_ui(photos, class_name, index)
    if photos.classes:
        _camera_ui(photos)
    ready = len(photos.classes) >= 2 and all(len(p) >= 1 for p in photos.classes.values())
    left, right = st.columns(2)
    if left.button("Use these classes", type="primary", disabled=not ready, key="use_classes"):
        st.session_state[BUILT_KEY] = (SET_NAME, photos.to_zip())
    if photos.photo_count:
        right.download_button(
            "Download them as a zip",
            photos.to_zip(),
            file_name=SET_NAME,
            mime="application/zip",
            key="download_classes",
        )
    if not ready:
        st.caption("Make at least 2 classes and add photos to each (5 or more per class).")
    built = st.session_state.get(BUILT_KEY)
    return built if built is not None and built[0] == SET_NAME else None


__all__ = ["BUILT_KEY", "add_photos", "classes_ui", "photo_set"]
