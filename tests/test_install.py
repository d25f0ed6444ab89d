"""The README's first command, as a newcomer runs it: the built wheel, installed, runs the demo.

The wheel is built from this checkout and installed without its dependencies into a fresh virtual
environment that sees the already-installed ones (installing them again would only test PyPI).
The demo runs from an empty directory, so it can only find the templates, rules and migrations
that the wheel itself carries.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str | Path, cwd: Path | None = None, timeout: float = 300) -> str:
    completed = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    assert completed.returncode == 0, f"{command} failed:\n{completed.stdout}\n{completed.stderr}"
    return completed.stdout


def test_the_built_wheel_runs_the_demo(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, ROOT)
    (wheel,) = wheels.glob("inboxbot-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--no-deps", "--force-reinstall", "-q", wheel)
    location = run(python, "-c", "import inboxbot; print(inboxbot.__file__)", cwd=tmp_path)
    assert str(venv) in location  # the wheel, not this checkout

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    output = run(venv / "bin" / "inboxbot", "demo", "--keep", empty / "data", cwd=empty)
    assert output.count("→ dossier ouvert") == 2
    assert "→ message automatique, sans accusé de réception" in output
    assert "→ ajouté au dossier" in output
    assert "Accusé de réception" in output and "Signalement enregistré" in output
    assert "Tableau de suivi" in output and "3 échange(s)" in output
    assert list((empty / "data" / "archive").rglob("*.eml"))
