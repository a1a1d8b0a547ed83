"""Running the real `visual-buffet gui` for browser tests, and Debian's Chromium under it.

:class:`GuiServer` starts the command in a subprocess (``--port 0 --no-browser``) with its
own config, cache and data dirs, and reads the URL line it prints. :func:`chromium` finds
the system Chromium that Playwright drives (``playwright install`` is never needed).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from PIL import Image

SHOTS_ENV = "VISUAL_BUFFET_GUI_SCREENSHOTS"
"""Set to a folder (docs/images) to save the pages' screenshots there while testing."""


def chromium() -> str | None:
    """The system Chromium's executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class GuiServer:
    """``visual-buffet gui`` in a subprocess; :attr:`url` is the line it printed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config" / "config.toml"
        self.env = {
            **os.environ,
            "VISUAL_BUFFET_CONFIG": str(self.config),
            "VISUAL_BUFFET_CACHE_DIR": str(root / "cache"),
            "VISUAL_BUFFET_DATA_DIR": str(root / "data"),
            "VISUAL_BUFFET_LIBRARY": str(root / "data" / "library.sqlite"),
            "VISUAL_BUFFET_PLUGINS": "siglip",
        }
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.stderr: list[str] = []

    def start(self, *args: str) -> GuiServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "visual_buffet", "gui", "--port", "0", "--no-browser", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=self._drain, args=(self.process.stderr,), daemon=True).start()
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"gui printed {self.url!r}; stderr: {''.join(self.stderr)}")
        return self

    def _drain(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            self.stderr.append(line)

    @property
    def base(self) -> str:
        """The served address without the token."""
        return self.url.split("/?", 1)[0]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Save ``page`` as ``NAME.png`` in $VISUAL_BUFFET_GUI_SCREENSHOTS (docs/images), small:
    256 colours, so the docs stay light."""
    folder = os.environ.get(SHOTS_ENV)
    if not folder:
        return
    target = Path(folder) / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=False)
    with Image.open(target) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        small.save(target, optimize=True)
