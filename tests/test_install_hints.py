"""The tool's install hints work for a package that is not on PyPI: they name the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from visual_buffet import install_hints
from visual_buffet.install_hints import install_command

REPO = Path(__file__).resolve().parents[1]


def test_an_editable_install_names_its_checkout():
    # The tests run from an editable install of this checkout (scripts/setup, .ci/run).
    assert install_command("heif") == f'pip install -e "{REPO}[heif]"'
    assert install_command() == f'pip install -e "{REPO}"'


def test_a_copied_install_says_to_run_pip_in_the_checkout(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(install_hints, "_checkout", lambda: None)
    assert install_command("raw") == 'pip install ".[raw]" in the Visual Buffet checkout'
    assert "visual-buffet[" not in install_command("raw")  # not on PyPI: would fail
