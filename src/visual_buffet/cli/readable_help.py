"""`--help` that shows what to type, not Python type names.

Typer's rich help prints each parameter's Python annotation in a "type" column:
``PATH <list[Path]>``, ``-r <bool>``, ``--plugin <list[str]>``. For people that column is
noise at best (``<bool>`` next to a flag that takes no value) and a puzzle at worst. The root
group below rewrites every parameter of every command once, when click resolves the command
(for running it and for its ``--help`` alike), so commands added later get the same help
without doing anything:

- flags show nothing in that column (they take no value);
- options without a metavar get a word for their type (``TEXT``, ``INTEGER``, ``FILE``, or
  the choices ``a|b|c``);
- arguments show their name only (``PATH``, ``NAME``), which already says what to type.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

_WORDS = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "NUMBER",
    "path": "PATH",
    "file": "FILE",
    "directory": "FOLDER",
}
"""Typer's type labels (``<str>``, ``<file>``...) as the words click's plain help uses."""


def _no_type_column(ctx: Any = None) -> None:
    """An argument's name column already shows its metavar; the type column stays empty."""
    return None


def type_word(label: str) -> str:
    """``<list[str]>`` -> ``TEXT``, ``<int>`` -> ``INTEGER``; choices ``<a|b>`` stay ``a|b``."""
    label = label.strip("<>")
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    return _WORDS.get(label.lower(), label if "|" in label else label.upper())


def make_readable(param: Any, ctx: Any) -> None:
    """Give ``param`` a metavar a person can read (in place; idempotent)."""
    if isinstance(param, TyperOption):
        if param.is_flag or param.count:
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = type_word(param.display_type(ctx))
    elif isinstance(param, TyperArgument):
        if param.metavar is None:
            param.metavar = (param.name or "value").upper()
        # An instance attribute: only our own command tree's arguments change.
        param.display_type_rich = _no_type_column  # type: ignore[method-assign]


def _make_tree_readable(command: Any, ctx: Any) -> None:
    for param in command.get_params(ctx):  # includes the (cached) --help option
        make_readable(param, ctx)
    for sub in getattr(command, "commands", {}).values():  # a sub-group's commands
        _make_tree_readable(sub, ctx)


class ReadableHelpGroup(TyperGroup):
    """The root group: its own options and every sub-command's get readable metavars."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            make_readable(param, ctx)
        return params

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _make_tree_readable(command, ctx)
        return command
