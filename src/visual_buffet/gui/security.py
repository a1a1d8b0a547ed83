"""Who may talk to the GUI server, and which files it may read.

A local web server is reachable from every page the user's browser opens, so:

* **Host / Origin**: a request whose ``Host`` is not an address this server was started on is
  refused (DNS rebinding: ``evil.example`` resolving to 127.0.0.1 still sends
  ``Host: evil.example``); so is one whose ``Origin`` is another site.
* **Access token**: every request carries the per-launch token, as the ``token`` query
  parameter of the URL printed at start (which sets an ``HttpOnly``, ``SameSite=Strict``
  cookie and redirects to the bare URL), the cookie itself, or the ``X-Visual-Buffet-Token``
  header. Without it nothing is read or changed: not even the page's HTML.
* **CSRF**: only ``GET``/``HEAD`` read and only ``POST`` changes; a ``POST`` also needs the
  ``X-CSRF-Token`` header, whose value is in the page the server serves (another site can
  neither read it nor set a custom header without a CORS preflight, which is never granted).
* **Files**: :class:`FileGate` lets through only files inside the folders the user chose,
  after resolving symlinks (``..``, absolute paths elsewhere and links out are refused).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import secrets
import socket
import threading
from collections.abc import Iterable
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_HEADER = "x-visual-buffet-token"
CSRF_HEADER = "x-csrf-token"

_NO_TOKEN_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Visual Buffet: access token "
    "needed</title><body style='font-family:sans-serif;max-width:40em;margin:3em auto'>"
    "<h1>Access token needed</h1><p>This page only works with the access token of this "
    "launch. Open the full address that <code>visual-buffet gui</code> printed (it ends "
    "with <code>?token=…</code>).</p></body></html>"
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def served_hosts(host: str, port: int) -> set[str]:
    """The ``Host`` header values a browser sends for this server (``name:port``)."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    if host in ("0.0.0.0", "::", ""):
        # Bound to every interface: the machine's own names and addresses are this server.
        hostname = socket.gethostname()
        names |= {hostname, socket.getfqdn()}
        with contextlib.suppress(OSError):
            names |= {info[4][0] for info in socket.getaddrinfo(hostname, None)}
    else:
        names.add(host)
    return {f"[{n}]:{port}" if ":" in n and not n.startswith("[") else f"{n}:{port}" for n in names}


class Guard:
    """ASGI middleware that enforces the Host, Origin, token and CSRF rules above."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: Iterable[str],
        token: str,
        csrf_token: str,
        cookie_name: str,
    ) -> None:
        self.app = app
        self.hosts = {h.lower() for h in hosts}
        self.origins = {f"http://{h}" for h in self.hosts}
        self.token = token
        self.csrf_token = csrf_token
        self.cookie_name = cookie_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no WebSocket endpoint: refuse rather than pass it on
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").lower()
        if host not in self.hosts:
            await _deny(send, 403, f"Host {host or '(none)'!r} is not this server's address.")
            return
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in self.origins:
            await _deny(send, 403, f"requests from {origin} are not allowed.")
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        from_url = _same(query.get("token", [""])[0], self.token)
        cookie = SimpleCookie(headers.get("cookie", "")).get(self.cookie_name)
        from_cookie = cookie is not None and _same(cookie.value, self.token)
        from_header = _same(headers.get(TOKEN_HEADER, ""), self.token)
        if not (from_url or from_cookie or from_header):
            await _deny(send, 403, _NO_TOKEN_PAGE, html=True)
            return
        method = scope["method"]
        if method not in ("GET", "HEAD", "POST"):
            await _deny(send, 405, "only GET (read) and POST (change) are used.")
            return
        if method == "POST" and not _same(headers.get(CSRF_HEADER, ""), self.csrf_token):
            await _deny(send, 403, "missing or wrong X-CSRF-Token header.")
            return
        if from_url and method == "GET" and not from_cookie:
            # Trade the URL token for a cookie, and drop it from the address bar and history.
            rest = {k: v for k, v in query.items() if k != "token"}
            location = scope["path"] + (f"?{urlencode(rest, doseq=True)}" if rest else "")
            cookie_value = f"{self.cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict"
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [
                        (b"location", location.encode("latin-1")),
                        (b"set-cookie", cookie_value.encode("latin-1")),
                        (b"cache-control", b"no-store"),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, _with_security_headers(send))


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _with_security_headers(send: Send) -> Send:
    async def wrapped(message: dict) -> None:  # type: ignore[type-arg]
        if message["type"] == "http.response.start":
            extra = [
                (b"x-frame-options", b"DENY"),
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"no-referrer"),
                (
                    b"content-security-policy",
                    b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                    b"frame-ancestors 'none'",
                ),
            ]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


async def _deny(send: Send, status: int, text: str, *, html: bool = False) -> None:
    body = text.encode("utf-8") if html else f"refused: {text}\n".encode()
    kind = b"text/html; charset=utf-8" if html else b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


class FileRefused(PermissionError):
    """A path the GUI will not read. The message says why.

    ``outside`` is true when the path itself is well formed but lies outside the chosen
    folders (the caller may know of another folder the user chose, e.g. a stored photo's).
    """

    def __init__(self, message: str, *, outside: bool = False) -> None:
        super().__init__(message)
        self.outside = outside


class FileGate:
    """The folders the user chose; :meth:`check` lets through only files inside them."""

    def __init__(self, roots: Iterable[Path] = ()) -> None:
        self._lock = threading.Lock()
        self._roots: list[Path] = []
        for root in roots:
            self.add_root(root)

    def add_root(self, folder: Path) -> Path:
        """Allow reading inside ``folder`` (resolved: a link to elsewhere allows elsewhere)."""
        resolved = Path(folder).expanduser().resolve()
        with self._lock:
            if resolved not in self._roots:
                self._roots.append(resolved)
        return resolved

    @property
    def roots(self) -> list[Path]:
        with self._lock:
            return list(self._roots)

    def check(self, raw: str, *, also: Iterable[Path] = ()) -> Path:
        """Return the real path of the file ``raw`` names, or raise :class:`FileRefused`.

        ``raw`` must be absolute, without ``..``; after resolving symlinks it must lie inside
        one of the chosen folders (or of ``also``: e.g. the folder a stored image was tagged
        in). ``FileNotFoundError`` when it does not exist.
        """
        path = Path(raw)
        if not path.is_absolute():
            raise FileRefused(f"{raw!r} is not an absolute path.")
        if ".." in path.parts:
            raise FileRefused(f"{raw!r} contains '..'.")
        real = path.resolve(strict=True)
        for root in [*self.roots, *(Path(a).resolve() for a in also)]:
            if real == root or real.is_relative_to(root):
                if not real.is_file():
                    raise FileRefused(f"{raw!r} is not a file.")
                return real
        raise FileRefused(f"{raw!r} is outside the folders chosen in this session.", outside=True)
