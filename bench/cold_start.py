"""Cold start: process start → first result, the cached OpenVINO engine vs the TensorFlow path.

Two measurements per engine, random weights (start-up does not depend on weight values):

- CLI: ``model-zoo classify cat.jpg`` with the five models, a fresh process each run
  (median of ``--runs``); the engine's converted models are cached by a first, uncounted run.
  Then once more with an empty cache for each engine (the OpenVINO path converts the five
  models, in two child processes at once, as a first start or a Space restart without
  ``/data`` or baked models does).
- Server: ``streamlit run app.py`` started cold; a headless Chromium page opens Compare at
  once and waits until the sidebar shows all five models ready (time to ready, from the
  launch), then picks the cat example (time to the first result, from the click). The
  server's RSS after that first Compare is printed too; and the OpenVINO server once more
  with an empty cache. Needs Debian's chromium and
  Playwright, like the browser tests.

    python bench/cold_start.py [--runs 3]

The LAST line is the CLI's cold-start ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ENGINES = {"openvino": "OpenVINO (cached)", "tensorflow": "TensorFlow"}


def environment(engine: str) -> dict[str, str]:
    return {
        **os.environ,
        "MODEL_ZOO_WEIGHTS": "random",
        "MODEL_ZOO_ENGINE": engine,
        "PYTHONPATH": str(ROOT),
    }


def cli_seconds(engine: str, photo: Path, cache: Path | None = None) -> float:
    env = environment(engine)
    if cache is not None:
        env["MODEL_ZOO_CACHE"] = str(cache)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "model_zoo", "classify", str(photo), "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def server_run(engine: str, log: Path, cache: Path | None = None) -> tuple[float, float, float]:
    """(seconds from launch to five models ready, seconds from click to result, RSS GB)."""
    from playwright.sync_api import sync_playwright

    from tests.app_server import start_app, stop_app

    env = environment(engine)
    if cache is not None:
        env["MODEL_ZOO_CACHE"] = str(cache)
    launched = time.perf_counter()
    server, url = start_app(ROOT, env, log, poll=0.1)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(f"{url}/compare")
            sidebar = page.locator("[data-testid=stSidebar]")
            deadline = time.monotonic() + 600
            while sidebar.inner_text().count("ready in") < 5:
                if time.monotonic() > deadline:
                    raise TimeoutError("the five models were not ready after 10 minutes")
                time.sleep(0.1)
            to_ready = time.perf_counter() - launched
            clicked = time.perf_counter()
            page.locator(".st-key-example-cat button").click()
            page.locator(".st-key-result-xception .js-plotly-plot").wait_for(timeout=600_000)
            page.locator(".st-key-agreement").wait_for(timeout=600_000)
            to_result = time.perf_counter() - clicked
            rss = psutil.Process(server.pid).memory_info().rss / 1e9
            browser.close()
    finally:
        stop_app(server)
    return to_ready, to_result, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from model_zoo.examples import get_example

    photo = Path(os.environ.get("TMPDIR", "/tmp")) / "model-zoo-cold-start-cat.jpg"
    photo.write_bytes(get_example("cat").read_bytes())
    cli_seconds("openvino", photo)  # converts once, if this cache has never seen them
    cli: dict[str, float] = {}
    for engine, label in ENGINES.items():
        runs = [cli_seconds(engine, photo) for _ in range(args.runs)]
        cli[engine] = statistics.median(runs)
        print(f"CLI, {label:<18} start → five-model result: {cli[engine]:5.1f} s (median)")
    for engine in ENGINES:
        with tempfile.TemporaryDirectory(prefix="model-zoo-empty-cache-") as empty:
            seconds = cli_seconds(engine, photo, Path(empty))
        print(f"CLI, {engine:<18} with an empty cache: {seconds:5.1f} s")
    log = Path(os.environ.get("TMPDIR", "/tmp")) / "model-zoo-cold-start.log"
    for engine, label in ENGINES.items():
        to_ready, to_result, rss = server_run(engine, log)
        print(
            f"server, {label:<18} launch → five models ready {to_ready:5.1f} s; "
            f"first Compare {to_result:4.1f} s; RSS {rss:.2f} GB"
        )
    with tempfile.TemporaryDirectory(prefix="model-zoo-empty-cache-") as empty:
        to_ready, to_result, rss = server_run("openvino", log, Path(empty))
    print(
        f"server, OpenVINO, empty cache  launch → five models ready {to_ready:5.1f} s; "
        f"first Compare {to_result:4.1f} s; RSS {rss:.2f} GB"
    )
    print(
        f"cold start to first result (CLI): OpenVINO {cli['openvino']:.1f} s vs TensorFlow "
        f"{cli['tensorflow']:.1f} s, ratio {cli['tensorflow'] / cli['openvino']:.2f}"
    )


if __name__ == "__main__":
    main()
