"""Serving the GUI with uvicorn: bind, print the URL with its token, open the browser."""

from __future__ import annotations

import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path

import uvicorn

from visual_buffet.gui.app import GuiState, create_app
from visual_buffet.gui.security import is_loopback, served_hosts

DEFAULT_PORT = 8420


class ServeError(Exception):
    """The server could not start (port in use, bad address); the message says what to do."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(
            f"--host {host}: not an address of this machine ({exc.strerror})."
        ) from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ServeError(
            f"cannot listen on {host}:{port}: {exc.strerror}. "
            "Another program (or another visual-buffet gui) may use that port: pass --port."
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int, token: str) -> str:
    """The address printed at start: loopback hosts as 127.0.0.1, with ``?token=``."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "localhost") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/?token={token}"


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    open_browser: bool = True,
    config_path: Path,
    folders: list[Path] | None = None,
    max_upload: int | None = None,
    announce: Callable[[str], None] = print,
    warn: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> None:
    """Run the GUI server until Ctrl-C. ``announce`` gets the URL line (stdout)."""
    if not is_loopback(host):
        warn(
            f"warning: serving on {host}: other machines on the network can reach this "
            "server (they still need the token). Use the default 127.0.0.1 unless you mean it."
        )
    sock = bind(host, port)
    actual_port = sock.getsockname()[1]
    state = GuiState(config_path=config_path)
    if max_upload is not None:
        state.max_upload = max_upload
    for folder in folders or []:
        state.gate.add_root(folder)
    app = create_app(
        state,
        hosts=served_hosts(host, actual_port),
        cookie_name=f"visual_buffet_token_{actual_port}",  # cookies ignore the port
    )
    url = url_for(host, actual_port, state.token)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    announce(url)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
