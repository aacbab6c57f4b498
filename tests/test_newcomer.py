"""The newcomer's walk, in headless Chromium against its own ``streamlit run`` (so its log is
this walk's alone): Compare an example and an upload, Explain, then Fine-tune — upload,
train, close the tab, reopen its address, see the same run live, its results, a batch of
photos and the formats. Random weights."""

from __future__ import annotations

import os
import re
import time
import typing
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from model_zoo.finetune.events import Phase
from model_zoo.limits import MAX_PHOTO_MB, MAX_UPLOAD_MB
from tests.app_server import start_app, stop_app, tail
from tests.test_browser import CHROMIUM, CHROMIUM_FLAGS, MODELS, wait_for_results

ROOT = Path(__file__).resolve().parents[1]
CAT = ROOT / "model_zoo" / "data" / "examples" / "cat.jpg"
pytestmark = [pytest.mark.slow, pytest.mark.browser]
SOMEONE_ELSE = re.compile(r"someone else|another visitor", re.IGNORECASE)


@pytest.fixture(scope="module")
def walk_server(tmp_path_factory):
    log = tmp_path_factory.mktemp("newcomer") / "server.log"
    env = {**os.environ, "MODEL_ZOO_WEIGHTS": "random", "PYTHONPATH": str(ROOT)}
    env.pop("MODEL_ZOO_DEBUG", None)  # the default log level, as a newcomer runs it
    server, url = start_app(ROOT, env, log)
    try:
        yield url, log
    finally:
        stop_app(server)


def _uploader(page, label: str):
    """The uploader whose label is ``label`` or starts with it."""
    return page.get_by_role("region", name=re.compile("^" + re.escape(label)))


def _hint(page, label: str) -> str:
    """The line under the uploader labelled ``label`` (Streamlit's "Limit … per file")."""
    return _uploader(page, label).get_by_test_id("stFileUploaderDropzoneInstructions").inner_text()


def _assert_cap(page, label: str, cap_mb: int) -> None:
    hint = _hint(page, label).replace(" MB", "MB")
    assert re.search(rf"(?<!\d){cap_mb}MB per file", hint), (label, hint)


def _compare(page, url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/compare")
    expect(page.get_by_text("every prediction on this page is meaningless")).to_be_visible(
        timeout=60_000
    )
    page.locator(".st-key-example-cat button").click()
    for name in MODELS:
        expect(page.locator(f".st-key-result-{name}")).to_be_visible(timeout=240_000)
    page.get_by_text("Upload", exact=True).click()
    _assert_cap(page, "Photos (several at once are fine)", MAX_PHOTO_MB)
    page.locator("input[type=file]").set_input_files(str(CAT))
    expect(page.locator(".st-key-result-xception .js-plotly-plot")).to_be_visible(timeout=120_000)
    page.get_by_text("Explain (Grad-CAM)").click()
    for name in MODELS:  # one heatmap under each model
        expect(page.locator(f".st-key-result-{name} [data-testid='stImage']")).to_have_count(
            1, timeout=180_000
        )
    page.get_by_text("A zip of many photos", exact=True).click()
    expect(page.get_by_text("Upload a zip of photos: one row per photo")).to_be_visible(
        timeout=60_000
    )
    _assert_cap(page, "A .zip of photos", MAX_UPLOAD_MB)
    assert page.locator("[data-testid='stException']").count() == 0


def _start_training(page, url: str, data: Path) -> str:
    """Uploads ``data``, trains with augmentation (every epoch through the backbone, so the
    run lasts long enough to close the tab) and returns the run's token from the address."""
    from playwright.sync_api import expect

    page.goto(f"{url}/finetune")
    _assert_cap(page, "Dataset: a .zip of class folders", MAX_UPLOAD_MB)
    page.locator("input[type=file]").first.set_input_files(str(data))
    expect(page.get_by_text("3 classes, 60 images")).to_be_visible(timeout=60_000)
    page.get_by_text("Augmentation (flip, rotation, zoom)").click()
    page.get_by_text("Early stopping", exact=True).click()
    page.get_by_role("button", name="Train").click()
    expect(page.locator(".st-key-live")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("You may close this page")).to_be_visible(timeout=30_000)
    deadline = time.monotonic() + 30
    while "run=" not in page.url:
        assert time.monotonic() < deadline, f"no run token in {page.url}"
        time.sleep(0.2)
    return parse_qs(urlparse(page.url).query)["run"][0]


def _results(page, photos: Path, log: Path) -> None:
    from playwright.sync_api import expect

    wait_for_results(page, log)
    _assert_cap(page, "Photo", MAX_PHOTO_MB)  # try it
    _assert_cap(page, "A .zip of photos", MAX_UPLOAD_MB)
    _uploader(page, "A .zip of photos").locator("input[type=file]").set_input_files(str(photos))
    expect(page.get_by_role("button", name="Download predictions.csv")).to_be_visible(
        timeout=120_000
    )
    page.get_by_text("SavedModel (TF Serving)").click()
    expect(page.get_by_text(re.compile(r"about \d+ s"))).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Convert and check the formats").click()
    expect(page.get_by_text(re.compile("top-1 agreement"))).to_be_visible(timeout=300_000)
    assert page.locator("[data-testid='stException']").count() == 0


def test_the_newcomers_walk(walk_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from tests.conftest import colour_class_zip

    url, log = walk_server
    data = tmp_path / "colours.zip"
    data.write_bytes(colour_class_zip(per_class=20, side=64))
    photos = tmp_path / "photos.zip"
    photos.write_bytes(colour_class_zip(per_class=2, side=64))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1500, "height": 3000})
            page = context.new_page()
            _compare(page, url)
            token = _start_training(page, url, data)
            address = page.url
            page.close()  # the tab closed mid-run
            time.sleep(3)
            page = context.new_page()
            page.goto(address)
            live = page.locator(".st-key-live")
            expect(live).to_be_visible(timeout=60_000)
            assert parse_qs(urlparse(page.url).query)["run"] == [token]
            phases = [p[0].upper() + p[1:] for p in typing.get_args(Phase)]
            expect(live).to_contain_text(re.compile("|".join([*phases, "Finished after"])))
            assert not SOMEONE_ELSE.search(page.inner_text("body"))

            # Another browser, without the address: nothing of this run.
            stranger = browser.new_context().new_page()
            stranger.goto(f"{url}/finetune")
            expect(stranger.get_by_text("Upload a zip to start")).to_be_visible(timeout=60_000)
            assert stranger.locator(".st-key-live").count() == 0
            assert "colours.zip" not in stranger.inner_text("body")
            stranger.goto(f"{url}/finetune?run=not-a-token")
            expect(stranger.get_by_text("Upload a zip to start")).to_be_visible(timeout=60_000)
            assert stranger.locator(".st-key-live").count() == 0

            _results(page, photos, log)
            assert not SOMEONE_ELSE.search(page.inner_text("body"))
            page.screenshot(path=str(tmp_path / "walk.png"), full_page=True)
        finally:
            browser.close()
    noisy = [line for line in log.read_text().splitlines() if re.search("WARNING|Traceback", line)]
    assert noisy == [], f"the server log is not quiet:\n{tail(log)}"
