"""The README's first command, as a newcomer runs it: the built wheel, installed, runs the demo.

The first test builds the wheel from this checkout and installs it without its dependencies into a
fresh virtual environment that sees the already-installed ones; the demo runs from an empty
directory, so it can only find the templates, rules and migrations that the wheel itself carries.

The second runs the README's first line itself, word for word, with the distribution's own
`/usr/bin/python3` (Debian 12 / Ubuntu 24.04), where `pip install .` outside a virtual environment
stops at once with « externally-managed-environment » (PEP 668). It downloads the dependencies (the
versions of constraints.txt, through PIP_CONSTRAINT, which leaves the line as the reader types it),
so it is skipped, with the reason, where no package index can be reached.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# They build and install the wheel into fresh virtual environments (one of them from the package index).
pytestmark = pytest.mark.servers

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str | Path, cwd: Path | None = None, timeout: float = 300) -> str:
    # Without PYTHONPATH (the way the brief runs tests from a worktree): it would put this checkout
    # ahead of the installed wheel.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
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
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    demo = subprocess.run(
        [venv / "bin" / "inboxbot", "demo", "--keep", empty / "data"],
        capture_output=True,
        text=True,
        cwd=empty,
        timeout=300,
        env=env,
    )
    assert demo.returncode == 0, demo.stderr
    output = demo.stdout
    assert output.count("→ dossier ouvert") == 2
    assert "→ message automatique, sans accusé de réception" in output
    assert "→ ajouté au dossier" in output
    assert "Accusé de réception" in output and "Signalement enregistré" in output
    # The whole procedure: her reply from her own client, her command closing the case, the digest,
    # the audit file; and nothing to warn about in its own set-up.
    assert "(written by the director)" not in output and "Commandes : 3 exécutée(s)" in output
    assert "Tableau de suivi" in output and "4 échange(s)" in output and "clos le" in output
    assert "Le point du jour" in output and "Suivi des dossiers" in output
    assert "dossier-audit/index.html" in output
    assert "warning" not in demo.stderr.lower(), demo.stderr
    assert list((empty / "data" / "archive").rglob("*.eml"))
    page = (empty / "data" / "dossier-audit" / "dossiers" / "2026-0001.html").read_text(encoding="utf-8")
    assert "Votre attestation vous a été envoyée ce matin" in page  # her reply, read from her Sent folder


SYSTEM_PYTHON = Path("/usr/bin/python3")
FIRST_LINE = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/inboxbot demo"


def _index_reachable() -> bool:
    """Whether pip reaches the package index it is configured with (whichever that is)."""
    try:
        asked = subprocess.run(
            [sys.executable, "-m", "pip", "index", "versions", "hatchling"],
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return asked.returncode == 0


def test_the_readme_starts_with_the_line_this_test_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    assert first_block.splitlines()[0].startswith(FIRST_LINE)


@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no /usr/bin/python3: not a Debian or Ubuntu system")
@pytest.mark.skipif(not _index_reachable(), reason="no package index reachable: the line downloads the dependencies")
def test_the_readme_first_line_works_with_the_distributions_own_python(tmp_path: Path) -> None:
    checkout = tmp_path / "inboxbot"
    shutil.copytree(
        ROOT, checkout, ignore=shutil.ignore_patterns(".git", ".venv", "*.egg-info", "__pycache__", "build")
    )
    # The reader's shell: the distribution's python3 first on PATH, no virtual environment active.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYENV", "VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{SYSTEM_PYTHON.parent}:/bin:/usr/sbin:/sbin"
    env["PIP_CONSTRAINT"] = str(ROOT / "constraints.txt")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("PIP_BREAK_SYSTEM_PACKAGES", None)  # .ci/run sets it for its own installs; a reader has not
    assert shutil.which("python3", path=env["PATH"]) == str(SYSTEM_PYTHON)

    if list(Path("/usr/lib").glob("python3*/EXTERNALLY-MANAGED")):
        # Why the README does not say `pip install .`: here it stops at once.
        refused = subprocess.run(
            ["python3", "-m", "pip", "install", "."], cwd=checkout, env=env, capture_output=True, text=True, timeout=120
        )
        assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr + refused.stdout

    completed = subprocess.run(
        ["sh", "-c", FIRST_LINE], cwd=checkout, env=env, capture_output=True, text=True, timeout=1200
    )
    assert completed.returncode == 0, f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    assert completed.stdout.count("→ dossier ouvert") == 2
    assert "Tableau de suivi" in completed.stdout
