"""The project's own promises: README commands, CI, Space front matter, lint."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(python3\.11 -m venv [^\n]+)\n```", README)


def test_readme_has_exactly_the_two_setup_commands():
    venv = "python3.11 -m venv .venv && . .venv/bin/activate && "
    assert readme_commands() == [
        venv + "pip install -r requirements.txt && streamlit run app.py",
        venv + "pip install -r requirements-dev.txt && python -m pytest",
    ]
    assert "http://localhost:8501" in README and "MODEL_ZOO_WEIGHTS=random streamlit" in README


def test_ci_runs_the_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci_lines


def test_space_front_matter_and_dockerfile():
    front = README.split("---")[1]
    assert "sdk: docker" in front and "app_port: 8501" in front
    docker = (ROOT / "Dockerfile").read_text()
    assert "EXPOSE 8501" in docker and "/_stcore/health" in docker and "HEALTHCHECK" in docker


def test_pages_import_no_tensorflow_or_keras():
    for page in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]:
        source = page.read_text()
        assert not re.search(r"^\s*(import|from)\s+(tensorflow|keras)\b", source, re.M), page


def test_mypy_is_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_is_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_one_upload_limit_in_the_server_the_widget_and_the_readme():
    import tomllib

    from model_zoo.limits import MAX_PHOTO_MB, MAX_UPLOAD_MB

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB
    assert f"**{MAX_UPLOAD_MB} MB per file**" in README
    assert f"photos over {MAX_PHOTO_MB} MB" in README
    ways_in = (ROOT / "ui" / "finetune" / "sources.py").read_text()  # the page's zip widget
    assert "max_upload_size=MAX_UPLOAD_MB" in ways_in


def test_uploaders_accept_any_file():
    # A photo without an extension must reach the decoder, which decides by its bytes.
    found = set()
    for path in [*(ROOT / "pages").glob("*.py"), *(ROOT / "ui").rglob("*.py")]:
        text = path.read_text()
        calls = re.findall(r"st\.file_uploader\((.*?)\n\s*\)", text, re.S)
        calls += re.findall(r"st\.file_uploader\(([^\n]*)\)", text)
        assert not any("type=" in c for c in calls), path
        if calls:
            found.add(path.relative_to(ROOT).as_posix())
    # Compare's photo, Fine-tune's zip and folder, a made class's photos, the zip of photos
    assert {"pages/compare.py", "ui/finetune/sources.py", "ui/finetune/classes.py"} <= found, found


def test_the_file_watcher_is_off():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"


def test_the_repository_cites_nothing_outside_itself():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        if name.endswith((".py", ".md", ".toml", ".txt", "Dockerfile")) or name.startswith(".ci"):
            text = (ROOT / name).read_text(errors="replace")
            outside = ("shared" + "/", "seed" + " script")  # spelled apart: this file is tracked
            assert not any(word in text for word in outside), name


def test_the_app_shows_no_tracebacks_to_visitors():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"


def test_the_installed_command_works_from_any_folder(tmp_path):
    import os
    import shutil

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = shutil.which("model-zoo", path=str(Path(sys.executable).parent))
    assert command, "pip install -r requirements-dev.txt installs the package and its command"
    for argv in ([command, "--help"], [sys.executable, "-m", "model_zoo", "--help"]):
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("usage: model-zoo") and "finetune" in proc.stdout


def test_the_package_ships_its_data():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["scripts"]["model-zoo"] == "model_zoo.cli:run"
    data = config["tool"]["setuptools"]["package-data"]["model_zoo"]
    package = ROOT / "model_zoo"
    files = [p.relative_to(package) for p in (package / "data").rglob("*") if p.is_file()]
    assert len(files) >= 6  # the class index, the example photos and their credits
    assert all(any(f.match(pattern) for pattern in data) for f in files), files


def test_the_readme_layout_names_every_module():
    layout = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(" `"): line for line in layout.splitlines() if "| `" in line}
    for folder in (
        "model_zoo",
        "model_zoo/finetune",
        "model_zoo/artifact",
        "model_zoo/compare",
        "model_zoo/cli",
        "ui",
        "ui/finetune",
    ):
        names = {p.stem for p in (ROOT / folder).glob("*.py")} - {"__init__", "__main__"}
        listed = rows[f"{folder}/"]
        assert all(f"`{name}`" in listed for name in names), (folder, names)
