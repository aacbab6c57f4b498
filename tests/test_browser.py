"""A real browser: the app served by ``streamlit run``, driven in headless Chromium."""

import csv
import io
import os
import re
from pathlib import Path

import pytest

from tests.app_server import start_app, stop_app, tail

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MODELS = ["vgg16", "vgg19", "resnet50", "inception_v3", "xception"]

pytestmark = [pytest.mark.slow, pytest.mark.browser]

if not Path(CHROMIUM).exists():
    # CI installs Chromium (.ci/run); there, a missing browser is a failure, not a skip.
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium package")
    pytest.skip(
        "Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def server_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("streamlit") / "server.log"


@pytest.fixture(scope="module")
def app_url(server_log):
    env = {**os.environ, "MODEL_ZOO_WEIGHTS": "random", "PYTHONPATH": str(ROOT)}
    server, url = start_app(ROOT, env, server_log)
    try:
        yield url
    finally:
        stop_app(server)


def test_upload_a_photo_and_see_five_result_panels(app_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    photo = ROOT / "model_zoo" / "data" / "examples" / "cat.jpg"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1300})
            page.goto(f"{app_url}/compare")
            expect(page.get_by_text("every prediction on this page is meaningless")).to_be_visible(
                timeout=60_000
            )
            page.get_by_text("Upload", exact=True).click()
            page.locator("input[type=file]").set_input_files(str(photo))
            for name in MODELS:
                expect(page.locator(f".st-key-result-{name}")).to_be_visible(timeout=240_000)
            expect(page.locator(".st-key-result-xception .js-plotly-plot")).to_be_visible(
                timeout=60_000
            )
            expect(page.get_by_text("Where the models agree", exact=True)).to_be_visible()
            assert page.locator("[data-testid='stException']").count() == 0
            # Opened straight at /compare on a fresh server: our titled navigation, not
            # Streamlit's list of file names.
            sidebar = page.locator("[data-testid='stSidebar']").inner_text()
            assert "Home" in sidebar and "Compare" in sidebar
            assert page.locator("[data-testid='stSidebarNav']").count() == 0
            shot = tmp_path / "compare.png"
            page.screenshot(path=str(shot), full_page=True)

            # Explain: five heatmaps; clicking the 5th row of a top-5 explains that class
            page.get_by_text("Explain (Grad-CAM)").click()
            captions = page.locator(".st-key-result-resnet50 [data-testid='stImageCaption']")
            expect(captions).to_have_count(1, timeout=120_000)
            first = captions.inner_text()
            for name in MODELS:  # one heatmap under each model
                expect(
                    page.locator(f".st-key-result-{name} [data-testid='stImage']")
                ).to_have_count(1, timeout=120_000)
            plot = page.locator(".st-key-result-resnet50 .nsewdrag").first.bounding_box()
            page.mouse.click(plot["x"] + plot["width"] * 0.6, plot["y"] + plot["height"] * 0.9)
            expect(captions).not_to_have_text(first, timeout=60_000)
            assert captions.inner_text().startswith("why ")
            page.screenshot(path=str(tmp_path / "explain.png"), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")


def test_train_in_the_browser_and_click_a_confusion_cell(app_url, server_log, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from tests.conftest import colour_class_zip

    data = tmp_path / "colours.zip"
    data.write_bytes(colour_class_zip(per_class=10, side=64))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 3400})
            page.goto(f"{app_url}/finetune")
            page.locator("input[type=file]").first.set_input_files(str(data))
            expect(page.get_by_text("3 classes, 30 images")).to_be_visible(timeout=60_000)
            page.get_by_role("button", name="Train").click()
            expect(page.locator(".st-key-live")).to_be_visible(timeout=60_000)
            wait_for_results(page, server_log)
            confusion = page.locator(".st-key-confusion .nsewdrag").first
            box = confusion.bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            expect(page.get_by_text("true class_b → predicted")).to_be_visible(timeout=30_000)
            assert page.locator("[data-testid='stException']").count() == 0
            page.screenshot(path=str(tmp_path / "finetune.png"))
        finally:
            browser.close()
    assert (tmp_path / "finetune.png").stat().st_size > 20_000


def wait_for_results(page, server_log: Path) -> None:
    """Waits for the live panel to reach its end and the page to show the results."""
    from playwright.sync_api import expect

    live = page.locator(".st-key-live")
    try:
        expect(live).to_contain_text("Finished after", timeout=300_000)
        expect(page.get_by_text("Most confident mistakes", exact=True)).to_be_visible(
            timeout=60_000
        )
    except AssertionError:
        # Playwright's own message is a long page dump; say what the page was doing.
        text = live.inner_text() if live.count() else "(no live panel)"
        raise AssertionError(
            f"no results. Live panel:\n{text}\n--- server log tail ---\n{tail(server_log)}"
        ) from None


def idle(page) -> None:
    """Waits until Streamlit has no script run under way (its status widget is gone)."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)


def test_a_two_by_one_leaderboard_in_the_browser_opens_a_row(app_url, server_log, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from tests.conftest import colour_class_zip

    data = tmp_path / "colours.zip"
    data.write_bytes(colour_class_zip(per_class=10, side=64))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 3600})
            page.goto(f"{app_url}/finetune")
            page.locator("input[type=file]").first.set_input_files(str(data))
            expect(page.get_by_text("3 classes, 30 images")).to_be_visible(timeout=60_000)
            page.get_by_text("Leaderboard", exact=True).first.click()
            expect(page.get_by_text("15 combinations")).to_be_visible(timeout=30_000)
            # Down to two backbones and one head, each click waiting for its rerun.
            removals = [
                ("VGG19", 12),
                ("InceptionV3", 9),
                ("Xception", 6),
                ("Flatten → Dense 256 (ReLU) → Dropout 0.5 → softmax", 4),
                ("Global average pooling → Dropout 0.5 → softmax", 2),
            ]
            for name, left in removals:
                remove = page.get_by_role("button", name=f"Remove {name}", exact=True)
                for _ in range(3):  # a click that lands while a rerun settles can be lost
                    idle(page)
                    if remove.count():
                        remove.click()
                    try:
                        expect(page.get_by_text(f"{left} combinations:")).to_be_visible(
                            timeout=10_000
                        )
                        break
                    except AssertionError:
                        continue
                expect(page.get_by_text(f"{left} combinations:")).to_be_visible()
            page.get_by_role("button", name="Run the leaderboard").click()
            live = page.locator(".st-key-live")
            try:
                expect(live).to_contain_text("Finished: 2 combinations", timeout=300_000)
                expect(
                    page.get_by_text("Test accuracy (95% interval) vs inference time")
                ).to_be_visible(timeout=60_000)
            except AssertionError:
                text = live.inner_text() if live.count() else "(no live panel)"
                raise AssertionError(
                    f"no leaderboard. Live panel:\n{text}\n--- server log ---\n{tail(server_log)}"
                ) from None
            try:
                page.get_by_role("combobox", name=re.compile("Open a combination")).click()
            except Exception:
                snapshot = page.locator("body").aria_snapshot()
                at = snapshot.find("Open a combination")
                raise AssertionError(snapshot[max(0, at - 500) : at + 1500]) from None
            page.get_by_role("option", name="VGG16 · global pool").click()
            expect(page.get_by_text("Results · VGG16 · global pool")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Most confident mistakes", exact=True)).to_be_visible()
            expect(page.get_by_text("Reliability on the test split")).to_be_visible()
            assert page.locator("[data-testid='stException']").count() == 0
            page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "leaderboard.png").stat().st_size > 20_000


def test_a_zip_over_25_mb_uploads_and_shows_the_summary(app_url, server_log, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from tests.conftest import large_photo_zip

    data = tmp_path / "weather.zip"
    data.write_bytes(large_photo_zip())
    assert data.stat().st_size > 26_000_000
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(f"{app_url}/finetune")
            expect(page.get_by_text("200MB per file")).to_be_visible(timeout=60_000)
            page.locator("input[type=file]").first.set_input_files(str(data))
            try:
                expect(page.get_by_text("2 classes, 30 images")).to_be_visible(timeout=120_000)
            except AssertionError:
                raise AssertionError(
                    f"no dataset summary.\n{page.locator('main').inner_text()[:1500]}"
                    f"\n--- server log tail ---\n{tail(server_log)}"
                ) from None
            assert "413" not in tail(server_log)
            assert page.locator("[data-testid='stException']").count() == 0
            page.screenshot(path=str(tmp_path / "large-zip.png"), full_page=True)
        finally:
            browser.close()


# Class and file names a visitor could give (folder names hold no "/" or "\\"): a tracking
# pixel and a link to a host outside ("https:HOST" is a full address to a browser), HTML,
# KaTeX, Streamlit's colour markup and emphasis, Plotly's markup.
OUTSIDE = "203.0.113.9"  # TEST-NET-3: never a real host
HOSTILE_NAMES = [
    f"![pixel](https:{OUTSIDE})",
    f"[Claim your prize](https:{OUTSIDE})",
    "<img src=x onerror=alert(1)>",
    "$x^2$ :red[red] **bold**",
    f"<b onmouseover=alert(1)>plotly<br>https:{OUTSIDE}",
]


def _watch(page) -> tuple[list[str], list[str]]:
    """Every request the page makes, and every dialog it opens (dismissed)."""
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return requests, dialogs


def _assert_stayed_home(page, requests: list[str], dialogs: list[str]) -> None:
    from urllib.parse import urlsplit

    outside = [u for u in requests if urlsplit(u).hostname not in ("127.0.0.1", None)]
    assert outside == [] and dialogs == []
    assert page.locator(f"a[href*='{OUTSIDE}'], img[src*='{OUTSIDE}']").count() == 0
    assert page.locator("[data-testid='stMarkdownContainer'] img").count() == 0
    assert page.locator("[data-testid='stMarkdownContainer'] .katex").count() == 0
    assert page.locator("[data-testid='stException']").count() == 0


def test_hostile_class_and_file_names_show_as_text_and_fetch_nothing(app_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from tests.conftest import colour_class_zip

    data = tmp_path / "names.zip"
    data.write_bytes(colour_class_zip(per_class=5, side=48, names=HOSTILE_NAMES))
    photos = tmp_path / "photos"
    photos.mkdir()
    good = photos / f"[Claim](https:{OUTSIDE}).jpg"
    good.write_bytes((ROOT / "model_zoo" / "data" / "examples" / "cat.jpg").read_bytes())
    bad = photos / "![x](https:203.0.113.9) **broken**.png"
    bad.write_bytes(b"not an image")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, env={**os.environ, "HOME": str(tmp_path)}
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            requests, dialogs = _watch(page)
            page.goto(f"{app_url}/finetune")
            page.locator("input[type=file]").first.set_input_files(str(data))
            expect(page.get_by_text("5 classes, 25 images")).to_be_visible(timeout=60_000)
            # Each class, by its exact name, as text in the summary's Markdown (the chart's
            # tick says it too, once drawn: that one is checked below).
            summary = page.locator("[data-testid='stMarkdownContainer']")
            for name in HOSTILE_NAMES:
                expect(summary.get_by_text(name, exact=True)).to_be_visible()
            expect(page.locator(".js-plotly-plot .xtick text").first).to_be_attached(timeout=30_000)
            ticks = page.locator(".js-plotly-plot .xtick text").all_text_contents()
            assert sorted(ticks) == sorted(HOSTILE_NAMES)
            _assert_stayed_home(page, requests, dialogs)

            page.goto(f"{app_url}/compare")
            page.get_by_text("Upload", exact=True).click()
            page.locator("input[type=file]").set_input_files([str(good), str(bad)])
            expect(page.get_by_text(f"{bad.name} skipped: not a")).to_be_visible(timeout=120_000)
            expect(page.locator(".st-key-result-resnet50")).to_be_visible(timeout=240_000)
            _assert_stayed_home(page, requests, dialogs)
            page.screenshot(path=str(tmp_path / "names.png"), full_page=True)

            page.get_by_text("A zip of many photos", exact=True).click()
            expect(page.get_by_text("Upload a zip of photos: one row per photo")).to_be_visible(
                timeout=60_000
            )
            page.locator("input[type=file]").set_input_files(str(data))  # entries named so too
            expect(page.locator("[data-testid='stDataFrame']")).to_be_visible(timeout=120_000)
            with page.expect_download() as download:
                page.get_by_role("button", name="Download predictions.csv").click()
            rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
            assert len(rows) == 1 + 25 and {r[0].split("/")[0] for r in rows[1:]} == set(
                HOSTILE_NAMES
            )  # starting with "!", "[", "<", "$": none a formula, so none changed
            _assert_stayed_home(page, requests, dialogs)
        finally:
            browser.close()
