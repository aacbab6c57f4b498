"""Nothing is written outside KERAS_HOME, the job folders and the outputs a user named: the
CLI and the app run here with an empty home of their own, which must stay empty."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

import pytest

from tests.app_server import start_app, stop_app
from tests.conftest import ROOT, colour_class_zip, run_model_zoo

pytestmark = pytest.mark.slow
CAT = ROOT / "model_zoo" / "data" / "examples" / "cat.jpg"


_PAGES = """
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=300).run()
at.switch_page("pages/compare.py").run()
at.button(key="example-cat").click().run()
at.switch_page("pages/finetune.py").run()
assert not at.exception, [e.value for e in at.exception]
"""


def test_the_cli_and_the_app_write_nothing_in_home(tmp_path):
    home, keras_home, named = tmp_path / "home", tmp_path / "keras", tmp_path / "named"
    for folder in (home, keras_home, named):
        folder.mkdir()
    settings = {
        "HOME": str(home),
        "KERAS_HOME": str(keras_home),
        "MODEL_ZOO_CACHE": str(keras_home / "model_zoo"),  # a cache of this test's own
        "MODEL_ZOO_WEIGHTS": "random",
        "PYTHONPATH": str(ROOT),
        "TMPDIR": str(tmp_path / "tmp"),  # the job folders
    }
    env = {**os.environ, **settings}
    (tmp_path / "tmp").mkdir()
    (named / "colours.zip").write_bytes(colour_class_zip())

    def cli(*args: str) -> None:
        proc = run_model_zoo(*args, cwd=named, **settings)
        assert proc.returncode == 0, proc.stderr

    cli("classify", str(CAT), "--models", "resnet50")  # converts to OpenVINO: no ~/intel
    cli("finetune", "colours.zip", "--out", "run", "--epochs", "1", "--image-size", "48")
    cli("predict", "run", str(CAT), "--csv", "predictions.csv")
    server, url = start_app(ROOT, env, tmp_path / "server.log")  # the server's own start-up
    try:
        with urllib.request.urlopen(f"{url}/compare", timeout=30) as response:
            assert response.status == 200
    finally:
        stop_app(server)
    pages = subprocess.run(  # each page's script, as a visitor's session runs it
        [sys.executable, "-c", _PAGES],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert pages.returncode == 0, pages.stderr
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []
    assert (named / "predictions.csv").is_file() and (named / "run" / "labels.json").is_file()
    assert list((tmp_path / "tmp").iterdir()) == []  # and the job folders are gone
