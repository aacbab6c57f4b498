"""Load test: eight browser sessions comparing photos while a ninth trains a model.

Starts the app (random weights) on a free local port, warms the five models with one
Compare, then, at once: one headless Chromium page uploads a dataset and trains (with
augmentation, so it keeps a core busy), and eight pages each compare fresh photos
(``--rounds`` each, a new session and a new photo every time, so no cache helps). Reports
the Compare latency (upload → all five result panels shown) as p50/p95 and the server
process's RSS before, at its peak and after the pages are gone (the training child's peak
separately). Needs Debian's chromium and Playwright, like the browser tests.

    python bench/load_test.py [--sessions 8] [--rounds 3] [--app-dir DIR]

``--app-dir`` runs another checkout of the app (e.g. an older commit in a git worktree) for
a before/after comparison. The LAST line is p95 over p50 latency (how much worse the slow
tail is than the typical request).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class RssSampler(threading.Thread):
    """Samples the server's RSS, and its children's (the training process), twice a second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.server_peak = 0
        self.child_peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                self.server_peak = max(self.server_peak, self.process.memory_info().rss)
                children = self.process.children(recursive=True)
                child = sum(c.memory_info().rss for c in children if c.is_running())
                self.child_peak = max(self.child_peak, child)
            except psutil.Error:
                pass
            time.sleep(0.5)


def photo(path: Path, seed: int) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=90)
    return path


async def compare_once(browser, url: str, picture: Path) -> float:
    page = await browser.new_page(viewport={"width": 1400, "height": 1800})
    try:
        await page.goto(f"{url}/compare")
        await page.get_by_text("Upload", exact=True).click()
        start = time.perf_counter()
        await page.locator("input[type=file]").set_input_files(str(picture))
        await page.locator(".st-key-result-xception .js-plotly-plot").wait_for(timeout=600_000)
        return time.perf_counter() - start
    finally:
        await page.close()


async def train(browser, url: str, data: Path) -> float:
    page = await browser.new_page(viewport={"width": 1400, "height": 2400})
    await page.goto(f"{url}/finetune")
    await page.locator("input[type=file]").first.set_input_files(str(data))
    await page.get_by_text("Your data", exact=True).wait_for(timeout=120_000)
    await page.get_by_text("Augmentation (flip, rotation, zoom)").click()
    start = time.perf_counter()
    await page.get_by_role("button", name="Train").click()
    await page.get_by_text("Most confident mistakes", exact=True).wait_for(timeout=1_200_000)
    seconds = time.perf_counter() - start
    await page.close()
    return seconds


async def load(
    url: str, sessions: int, rounds: int, folder: Path, data: Path, server: psutil.Process
) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        warm = await compare_once(browser, url, photo(folder / "warm.jpg", 999))
        loaded = server.memory_info().rss
        print(f"first Compare (loads the five models): {warm:.1f} s", flush=True)
        training = asyncio.create_task(train(browser, url, data))
        await asyncio.sleep(5)  # the run is under way

        async def visitor(n: int) -> list[float]:
            return [
                await compare_once(browser, url, photo(folder / f"{n}-{r}.jpg", n * 100 + r))
                for r in range(rounds)
            ]

        latencies = [t for ts in await asyncio.gather(*map(visitor, range(sessions))) for t in ts]
        train_seconds = await training
        await browser.close()
    return {"latencies": latencies, "train_seconds": train_seconds, "loaded": loaded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--app-dir", type=Path, default=ROOT)
    args = parser.parse_args()

    from tests.app_server import start_app, stop_app
    from tests.conftest import colour_class_zip

    env = {**os.environ, "MODEL_ZOO_WEIGHTS": "random", "PYTHONPATH": str(args.app_dir)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "colours.zip"
        data.write_bytes(colour_class_zip(per_class=20, side=96))
        server, url = start_app(args.app_dir, env, folder / "server.log", timeout=240)
        try:
            process = psutil.Process(server.pid)
            idle = process.memory_info().rss
            sampler = RssSampler(server.pid)
            sampler.start()
            result = asyncio.run(load(url, args.sessions, args.rounds, folder, data, process))
            time.sleep(10)  # sessions end, memory is handed back
            after = process.memory_info().rss
            sampler.running = False
        finally:
            stop_app(server)
    lat = sorted(result["latencies"])
    p50 = statistics.median(lat)
    p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
    print(f"app: {args.app_dir}")
    print(
        f"{len(lat)} Compares by {args.sessions} sessions while one trained: "
        f"p50 {p50:.1f} s, p95 {p95:.1f} s, max {lat[-1]:.1f} s"
    )
    print(f"training (augmentation, 60 images) took {result['train_seconds']:.0f} s under load")
    print(
        f"server RSS: {idle / 1e9:.2f} GB idle, {result['loaded'] / 1e9:.2f} GB with the models "
        f"loaded (before the load), peak {sampler.server_peak / 1e9:.2f} GB, "
        f"{after / 1e9:.2f} GB after; training process peak {sampler.child_peak / 1e9:.2f} GB"
    )
    print(f"Compare latency under load: p95 {p95:.1f} s / p50 {p50:.1f} s, ratio {p95 / p50:.2f}")


if __name__ == "__main__":
    main()
