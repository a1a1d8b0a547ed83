"""Shared test set-up: private user dirs, test plugins through real metadata, CLI runners.

Every test gets its own config path and shares one cache dir for the session (a cache is a
cache), so no test reads or writes the real user's files.

Test plugins go through the real discovery path: :func:`write_distribution` writes the
``*.dist-info`` folder (``METADATA`` + ``entry_points.txt``) that ``pip install`` would write,
into a temporary "site" folder; putting that folder and the plugin modules on ``sys.path``
(or ``PYTHONPATH`` for a subprocess) is all ``importlib.metadata`` needs. Nothing is
installed into the virtualenv, so the tests run the same on a clean one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from visual_buffet.plugin_api import ENTRY_POINT_GROUP

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
EXAMPLE_PLUGIN = REPO / "examples" / "plugin"
FIXTURE_PLUGINS = TESTS / "fixture_plugins"

TEST_PLUGIN_ENTRY_POINTS = {
    "probe": "vb_probe:ProbePlugin",
    "broken": "vb_broken:BrokenPlugin",
}
"""The test distribution's plugins: ``probe`` works, ``broken`` fails to import."""

WIDE = "1000"  # COLUMNS for rich: messages on one line, so tests can look for them


# --- user dirs ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated_user_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _session_cache: Path
) -> None:
    """Point the config file, the cache and data dirs at temporary paths; forget allow-lists."""
    monkeypatch.setenv("VISUAL_BUFFET_CONFIG", str(tmp_path / "user-config" / "config.toml"))
    monkeypatch.setenv("VISUAL_BUFFET_CACHE_DIR", str(_session_cache))
    # The library store (data dir) is per test: a test never resumes another test's run.
    monkeypatch.setenv("VISUAL_BUFFET_DATA_DIR", str(tmp_path / "user-data"))
    monkeypatch.delenv("VISUAL_BUFFET_LIBRARY", raising=False)
    monkeypatch.delenv("VISUAL_BUFFET_PLUGINS", raising=False)
    monkeypatch.setenv("COLUMNS", WIDE)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """The config path this test's CLI runs use (the file does not exist yet)."""
    return tmp_path / "user-config" / "config.toml"


# --- plugins through real entry-point metadata --------------------------------------------


def write_distribution(site: Path, name: str, version: str, entry_points: dict[str, str]) -> Path:
    """Write the ``dist-info`` record of an installed distribution with plugin entry points."""
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = [f"[{ENTRY_POINT_GROUP}]", *(f"{key} = {value}" for key, value in entry_points.items())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dist_info


def example_project() -> dict:
    """``[project]`` of ``examples/plugin/pyproject.toml``."""
    return tomllib.loads((EXAMPLE_PLUGIN / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.fixture
def example_pyproject() -> dict:
    """``[project]`` of the example plugin's pyproject.toml."""
    return example_project()


@dataclass(frozen=True)
class PluginSite:
    """Folders that, on ``sys.path``, make the test and example plugins "installed"."""

    paths: tuple[Path, ...]

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join(str(p) for p in self.paths)


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> PluginSite:
    site = tmp_path_factory.mktemp("site-packages")
    write_distribution(site, "vb-test-plugins", "0.0.1", TEST_PLUGIN_ENTRY_POINTS)
    # The example plugin is registered from its own pyproject, so the test sees what an
    # install of examples/plugin would register.
    project = example_project()
    write_distribution(
        site, project["name"], project["version"], project["entry-points"][ENTRY_POINT_GROUP]
    )
    return PluginSite((site, FIXTURE_PLUGINS, EXAMPLE_PLUGIN / "src"))


@pytest.fixture
def test_plugins(plugin_site: PluginSite, monkeypatch: pytest.MonkeyPatch) -> PluginSite:
    """Register ``probe``, ``broken`` and the example ``colors`` plugin in this process."""
    for path in reversed(plugin_site.paths):
        monkeypatch.syspath_prepend(str(path))
    return plugin_site


@pytest.fixture
def register_plugins(
    tmp_path: Path, test_plugins: PluginSite, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str, dict[str, str]], None]:
    """Register more entry points from the fixture modules: ``register_plugins(dist, {...})``."""

    def register(dist_name: str, entry_points: dict[str, str]) -> None:
        site = tmp_path / f"site-{dist_name}"
        write_distribution(site, dist_name, "1.0", entry_points)
        monkeypatch.syspath_prepend(str(site))

    return register


@pytest.fixture
def probe_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """Make the probe plugin record its calls; returns a function that reads them."""
    path = tmp_path / "probe.log"
    monkeypatch.setenv("VB_PROBE_LOG", str(path))

    def events() -> list[str]:
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    return events


# --- running the CLI ----------------------------------------------------------------------


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run ``visual-buffet ARGS...`` in this process; returns click's Result (stdout, stderr)."""
    from visual_buffet.cli import app

    def run(*args: object, input: str | None = None) -> Result:
        return CliRunner().invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


@pytest.fixture
def cli_subprocess(plugin_site: PluginSite) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the CLI in a fresh interpreter with the test plugins on ``PYTHONPATH``."""

    def run(
        *args: object,
        env: dict[str, str] | None = None,
        python_args: Sequence[str] = (),
        code: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "PYTHONPATH": plugin_site.pythonpath, **(env or {})}
        entry = ["-c", code] if code is not None else ["-m", "visual_buffet"]
        return subprocess.run(
            [sys.executable, *python_args, *entry, *(str(a) for a in args)],
            env=full_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


def one_line(text: str) -> str:
    """Collapse whitespace, so assertions do not depend on where a terminal wrapped."""
    return " ".join(text.split())


# --- images -------------------------------------------------------------------------------


@pytest.fixture
def make_image(tmp_path: Path) -> Callable[..., Path]:
    """Write an image: ``make_image("red.png", (255, 0, 0))``; ``halves=`` for two colours."""

    def make(
        name: str,
        colour: tuple[int, int, int] = (128, 128, 128),
        size: tuple[int, int] = (64, 48),
        halves: tuple[int, int, int] | None = None,
        folder: Path | None = None,
    ) -> Path:
        image = Image.new("RGB", size, colour)
        if halves is not None:
            image.paste(halves, (size[0] // 2, 0, size[0], size[1]))
        path = (folder or tmp_path / "images") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
        return path

    return make


@pytest.fixture
def corrupt_image(tmp_path: Path) -> Path:
    """A ``.jpg`` whose bytes are not an image."""
    path = tmp_path / "images" / "corrupt.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" * 4)
    return path
