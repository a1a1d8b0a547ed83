"""`visual-buffet gui`: the URL line, the loopback default, a wider --host, a busy port."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.gui.browser import GuiServer
from visual_buffet.install_hints import install_command


def test_prints_one_url_line_with_a_token_and_serves_it(tmp_path: Path) -> None:
    server = GuiServer(tmp_path).start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]{40,}", server.url)
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(server.url) as response:  # the redirect sets the token cookie
            assert response.status == 200
            assert "Visual Buffet" in response.read().decode()
        with browser.open(server.base + "/api/plugins") as response:
            assert "siglip" in response.read().decode()
        # Without the token: refused.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.base + "/api/plugins")
        assert refused.value.code == 403
        assert not any("warning" in line for line in server.stderr)
    finally:
        server.stop()
    assert server.process is not None
    assert server.process.stdout is not None and server.process.stdout.read() == ""  # one line


def test_another_host_warns(tmp_path: Path) -> None:
    server = GuiServer(tmp_path).start("--host", "0.0.0.0")
    try:
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        server.stop()
    text = " ".join("".join(server.stderr).split())
    assert "warning: serving on 0.0.0.0: other machines on the network can reach" in text


def test_a_busy_port_is_a_usage_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "visual_buffet", "gui", "--port", str(port), "--no-browser"],
            capture_output=True,
            text=True,
            timeout=60,
            env=GuiServer(tmp_path).env,
        )
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"cannot listen on 127.0.0.1:{port}" in " ".join(done.stderr.split())
    assert "pass --port" in done.stderr


@pytest.mark.parametrize("missing", ["starlette", "uvicorn"])
def test_without_the_gui_extra_the_command_says_what_to_install(tmp_path, missing) -> None:
    code = (
        f"import sys; sys.modules[{missing!r}] = None\n"
        "from visual_buffet.cli import main\n"
        "sys.argv = ['visual-buffet', 'gui', '--no-browser', '--port', '0']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=GuiServer(tmp_path).env,
    )
    assert done.returncode == 2
    assert f"the GUI needs the gui extra ({missing} is not installed)" in done.stderr
    assert install_command("gui") in " ".join(done.stderr.split())
