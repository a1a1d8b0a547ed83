"""First-use traps of the CLI (issue 14): readable --help, a --config that does not exist, the
empty-folder hint, the table's "found in" column."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import one_line

TYPE_NAMES = re.compile(r"<(?:list\[)?(?:str|int|float|bool|Path|path|file|directory)\]?>")


def _commands(app) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """Every command path of the CLI, groups included, from the real click tree."""
    import typer.main

    found: list[list[str]] = [[]]

    def walk(command, prefix: list[str]) -> None:  # type: ignore[no-untyped-def]
        for name, sub in getattr(command, "commands", {}).items():
            found.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return found


def test_every_help_shows_words_not_python_types(cli) -> None:
    from visual_buffet.cli import app

    commands = _commands(app)
    assert (
        ["tag"] in commands and ["plugins", "setup"] in commands and ["config", "set"] in commands
    )
    for command in commands:
        result = cli(*command, "--help")
        assert result.exit_code == 0, command
        assert not TYPE_NAMES.search(result.stdout), (command, TYPE_NAMES.search(result.stdout))
    tag_help = one_line(cli("tag", "--help").stdout)
    for shown in ("--output -o FILE", "--plugin -p NAME", "--set KEY=VALUE", "table|json|jsonl"):
        assert shown in tag_help, shown
    assert "--recursive -r Walk" in tag_help  # a flag: no value column
    assert "--config FILE" in one_line(cli("--help").stdout)


def test_a_config_file_that_does_not_exist_is_an_error(cli, tmp_path: Path) -> None:
    missing = tmp_path / "typo.toml"
    for command in (
        ["config", "show"],
        ["plugins", "info", "siglip"],
        ["config", "get", "images.workers"],
    ):
        result = cli("--config", missing, *command)
        assert result.exit_code == 2, command
        assert f"--config {missing}: no such file." in one_line(result.stderr)
    # `config set` is how such a file is made; the default location may not exist yet either.
    assert cli("--config", missing, "config", "set", "images.workers", "2").exit_code == 0
    assert "workers = 2" in missing.read_text(encoding="utf-8")
    assert cli("--config", missing, "config", "show").exit_code == 0
    assert cli("config", "show").exit_code == 0  # VISUAL_BUFFET_CONFIG names no file yet


def test_the_empty_folder_hint_names_recursive_only_with_sub_folders(
    cli, test_plugins, tmp_path: Path
) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "notes.txt").write_text("x", encoding="utf-8")
    result = cli("tag", flat, "-p", "probe")
    assert result.exit_code == 2
    assert "no images found" in result.stderr and "--recursive" not in result.stderr
    (flat / "2024").mkdir()
    result = cli("tag", flat, "-p", "probe")
    assert "--recursive" in result.stderr


@pytest.mark.parametrize("quality", ["quick", "standard"])
def test_found_in_reads_the_same_at_every_quality(cli, quality: str, tmp_path: Path) -> None:
    """The demo model on a plain photo: the whole photo, in words, not `@ 1080` / `@ 480`."""
    from PIL import Image

    photo = tmp_path / "red.jpg"
    Image.new("RGB", (1200, 800), (220, 30, 30)).save(photo)
    result = cli("tag", photo, "--plugin", "siglip", "--variant", "demo", "--quality", quality)
    assert result.exit_code == 0, result.output
    assert "found in" in result.stdout and "whole photo" in result.stdout
    assert "@" not in result.stdout
