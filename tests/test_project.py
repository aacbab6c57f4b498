"""The project's own promises: README commands, CI, Space front matter, lint."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(pip install [^\n]+)\n```", README)


def test_readme_has_exactly_the_two_setup_commands():
    assert readme_commands() == [
        "pip install -r requirements.txt && streamlit run app.py",
        "pip install -r requirements-dev.txt && python -m pytest",
    ]


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


def test_ruff_is_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
