"""The package installs quietly and carries its templates, static files and subpackages.

Built with the test environment's own setuptools (--no-build-isolation), so no network is used."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_builds_without_setuptools_warnings_and_with_its_data(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    log = out.stdout + out.stderr
    for noise in ("SetuptoolsDeprecationWarning", "would be ignored", "is absent from the `packages`"):
        assert noise not in log, noise
    (wheel,) = tmp_path.glob("policy_assistant-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "assistant/templates/answer.txt.j2",
        "assistant/evaluation/__init__.py",
        "web/templates/chat.html",
        "web/static/chat.js",
    ):
        assert needed in names, needed
