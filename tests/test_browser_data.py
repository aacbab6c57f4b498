"""A real browser builds a dataset in the page: three classes from uploads and a shot from
Chromium's fake camera, trains on it, downloads it, and the zip uploads to the same
summary."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from model_zoo.sample import sample_photo
from tests.app_server import start_app, stop_app
from tests.conftest import encode
from tests.test_browser import CHROMIUM, CHROMIUM_FLAGS, idle, wait_for_results

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ("circle", "square", "triangle")
# Chromium's own test camera: a generated moving pattern, granted without a prompt.
CAMERA_FLAGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {**os.environ, "MODEL_ZOO_WEIGHTS": "random", "PYTHONPATH": str(ROOT)}
    process, url = start_app(ROOT, env, log)
    try:
        yield url, log
    finally:
        stop_app(process)


def _photos(folder: Path, shape: str, n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = folder / f"{shape}-{i}.jpg"
        path.write_bytes(encode(sample_photo(shape, rng), "JPEG"))
        paths.append(str(path))
    return paths


def test_classes_made_in_the_browser_with_the_camera_train_and_download(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, log = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS + CAMERA_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 3400})
            context.grant_permissions(["camera"])
            page = context.new_page()
            page.goto(f"{url}/finetune")
            page.get_by_text("Make classes here", exact=True).click()
            for index, shape in enumerate(SHAPES):
                page.get_by_label("New class").fill(shape)
                page.get_by_role("button", name="Add class").click()
                box = page.locator(f".st-key-class-box-{index}")
                expect(box).to_contain_text(f"{shape} · 0 photos", timeout=30_000)
                box.locator("input[type=file]").set_input_files(_photos(tmp_path, shape, 5, index))
                expect(box).to_contain_text(f"{shape} · 5 photos", timeout=60_000)
            idle(page)
            page.get_by_role("button", name="Take Photo").click(timeout=60_000)
            expect(page.locator(".st-key-class-box-0")).to_contain_text(
                "circle · 6 photos", timeout=60_000
            )
            idle(page)  # the rerun after the shot has drawn the download with it
            with page.expect_download() as download:
                page.get_by_role("button", name="Download them as a zip").click()
            zipped = tmp_path / "my-classes.zip"
            download.value.save_as(zipped)
            page.get_by_role("button", name="Use these classes").click()
            expect(page.get_by_text("3 classes, 16 images")).to_be_visible(timeout=60_000)
            page.get_by_role("button", name="Train").click()
            wait_for_results(page, log)
            assert page.locator("[data-testid='stException']").count() == 0

            again = context.new_page()  # a fresh session: the download uploads as it is
            again.goto(f"{url}/finetune")
            again.locator("input[type=file]").first.set_input_files(str(zipped))
            expect(again.get_by_text("3 classes, 16 images")).to_be_visible(timeout=60_000)
            assert again.locator("[data-testid='stException']").count() == 0
        finally:
            browser.close()
