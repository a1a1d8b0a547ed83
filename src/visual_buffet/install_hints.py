"""How to install an optional extra, said the way that works for this installation.

Visual Buffet is not published on PyPI, so ``pip install "visual-buffet[heif]"`` fails. It is
installed from a checkout: editable (``pip install -e .``, what ``scripts/setup`` does), when
this file lies inside the checkout, whose path the hint then names, or as a copy
(``pip install .``), when the hint names the command to run in the checkout.
"""

from __future__ import annotations

from pathlib import Path


def _checkout() -> Path | None:
    """The checkout this package runs from (an editable install), or None."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "visual-buffet"' in text else None


def install_command(extra: str = "") -> str:
    """The pip command that installs Visual Buffet with `extra` (or reinstalls it if empty)."""
    suffix = f"[{extra}]" if extra else ""
    checkout = _checkout()
    if checkout is not None:
        return f'pip install -e "{checkout}{suffix}"'
    return f'pip install ".{suffix}" in the Visual Buffet checkout'
