"""Fixtures for search / retag / duplicates: the library tests' tiny checkpoint and tag runner,
and any `visual-buffet` command in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.library.conftest import run_tag, tiny_v1, vocab  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "images"


@pytest.fixture
def vb(plugin_site) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``visual-buffet ARGS`` in a subprocess (text output, no check)."""

    def run(*args: object, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": plugin_site.pythonpath, "HF_HUB_OFFLINE": "1"}
        return subprocess.run(
            [sys.executable, "-m", "visual_buffet", *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def copy_examples(folder: Path) -> Path:
    """The bundled example photos in a folder of this test's own."""
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("*.md"))
    return folder
