"""Typed settings: how a plugin declares its options and how raw values are checked.

A plugin lists its settings as :class:`Setting` objects. The host turns config-file values,
dedicated CLI flags and ``--set KEY=VALUE`` strings into typed values with
:meth:`Setting.coerce`, and records where each value came from (:class:`SettingValue`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

SettingKind = Literal["bool", "int", "float", "str", "path", "choice"]

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class SettingError(ValueError):
    """A setting value a user gave is not allowed. The message names key, value, source and fix."""


@dataclass(frozen=True)
class Setting:
    """One option of a plugin (or of the host).

    Attributes:
        name: Config key, dotted for nested tables (``naflex.max_num_patches``).
        kind: Value type. ``choice`` values must be one of ``choices``.
        default: Value used when neither the config file nor the CLI sets one. ``None`` means
            "not set" (allowed only for settings where that has a meaning, e.g. ``model``).
        help: One line for ``--help``, ``plugins info`` and the docs.
        choices: Allowed strings for ``choice`` settings.
        minimum: Smallest allowed number (inclusive), for ``int`` and ``float``.
        maximum: Largest allowed number (inclusive), for ``int`` and ``float``.
        auto: The string ``"auto"`` is allowed besides numbers (e.g. ``batch_size``).
        flag: Name of the host's dedicated ``visual-buffet tag`` flag that sets this value
            (``"threshold"`` for ``--threshold``), or ``None``.
        aliases: Other config keys accepted for this setting (``limit`` for ``max_tags``).
        warn: Called with a valid value; returns a warning line or ``None``.
        label: The name a settings panel shows (``"Model variant"``); default: the name,
            capitalised, with ``_`` and ``.`` as spaces.
        section: Where a settings panel puts it: ``"main"`` (shown first), ``"advanced"``
            (under "Advanced"), or ``""`` (the plugin's other settings, after those).
            Within a section, settings keep their order in the schema.
        slider: ``(low, high, step)`` for a range input in a settings panel, when the useful
            range is narrower than what is allowed (threshold: 0.001-0.10 of 0-1).
    """

    name: str
    kind: SettingKind
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    auto: bool = False
    flag: str | None = None
    aliases: tuple[str, ...] = ()
    warn: Callable[[Any], str | None] | None = field(default=None, compare=False)
    label: str = ""
    section: Literal["main", "advanced", ""] = ""
    slider: tuple[float, float, float] | None = None

    @property
    def display_label(self) -> str:
        """The label a settings panel shows."""
        if self.label:
            return self.label
        text = self.name.replace("_", " ").replace(".", " ")
        return text[:1].upper() + text[1:]

    def allowed(self) -> str:
        """Describe the allowed values, for messages and docs."""
        if self.kind == "choice":
            text = ", ".join(self.choices)
        elif self.kind == "bool":
            text = "true or false"
        elif self.kind in ("int", "float"):
            word = "an integer" if self.kind == "int" else "a number"
            if self.minimum is not None and self.maximum is not None:
                text = f"{word} from {_num(self.minimum)} to {_num(self.maximum)}"
            elif self.minimum is not None:
                text = f"{word} >= {_num(self.minimum)}"
            elif self.maximum is not None:
                text = f"{word} <= {_num(self.maximum)}"
            else:
                text = word
        elif self.kind == "path":
            text = "a file path (~ is expanded)"
        else:
            text = "a string"
        if self.auto:
            text = f"auto, or {text}"
        return text

    def coerce(self, raw: Any, *, source: str) -> Any:
        """Return ``raw`` as this setting's type, or raise :class:`SettingError`.

        ``raw`` is a TOML value (already typed) or a CLI string. ``source`` names where it came
        from (``"--threshold"``, ``"config file /x/config.toml"``) for the error message.
        """
        try:
            return self._coerce(raw)
        except (TypeError, ValueError) as exc:
            reason = str(exc)
            raise SettingError(
                f"{source}: {self.name} = {raw!r} is not valid ({reason}). "
                f"Allowed: {self.allowed()}."
            ) from None

    def _coerce(self, raw: Any) -> Any:
        if self.auto and isinstance(raw, str) and raw.strip().lower() == "auto":
            return "auto"
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
                return raw.strip().lower() in _TRUE
            raise ValueError("expected true or false")
        if self.kind == "int":
            value = _to_int(raw)
            self._check_range(value)
            return value
        if self.kind == "float":
            value = _to_float(raw)
            self._check_range(value)
            return value
        if self.kind == "choice":
            if not isinstance(raw, str):
                raise TypeError(f"expected a string, got {type(raw).__name__}")
            value = raw.strip().lower()
            if value not in self.choices:
                close = difflib.get_close_matches(value, self.choices, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"unknown choice{hint}")
            return value
        if not isinstance(raw, str | Path):
            raise TypeError(f"expected a string, got {type(raw).__name__}")
        if self.kind == "path":
            text = str(raw).strip()
            if not text:
                raise ValueError("empty path")
            return Path(text).expanduser()
        return str(raw)

    def _check_range(self, value: float) -> None:
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"below the minimum {_num(self.minimum)}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"above the maximum {_num(self.maximum)}")

    def to_toml(self, value: Any) -> Any:
        """Return ``value`` in the form it is written to a TOML file."""
        return str(value) if isinstance(value, Path) else value


@dataclass(frozen=True)
class SettingValue:
    """A resolved value and where it came from (``default``, a file, a flag, ``--set``)."""

    value: Any
    source: str


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise TypeError("expected an integer, got a boolean")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueError("expected an integer") from None
    raise TypeError(f"expected an integer, got {type(raw).__name__}")


def _to_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise TypeError("expected a number, got a boolean")
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError("expected a number") from None
    else:
        raise TypeError(f"expected a number, got {type(raw).__name__}")
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


class Schema:
    """The settings of one plugin (or the host), looked up by name or alias."""

    def __init__(self, owner: str, settings: Iterable[Setting]) -> None:
        self.owner = owner
        self.settings: tuple[Setting, ...] = tuple(settings)
        self._by_key: dict[str, Setting] = {}
        for setting in self.settings:
            for key in (setting.name, *setting.aliases):
                if key in self._by_key:
                    raise ValueError(f"{owner}: setting key {key!r} is declared twice")
                self._by_key[key] = setting

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.settings)

    def get(self, key: str) -> Setting | None:
        """Return the setting for a name or alias, or ``None``."""
        return self._by_key.get(key)

    def by_flag(self, flag: str) -> Setting | None:
        """Return the setting bound to a dedicated CLI flag, or ``None``."""
        return next((s for s in self.settings if s.flag == flag), None)

    def suggest(self, key: str) -> str:
        """Return a ``did you mean`` hint for an unknown key (may be empty)."""
        close = difflib.get_close_matches(key, list(self._by_key), n=1)
        return f" Did you mean {close[0]!r}?" if close else ""

    def resolve(
        self, layers: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> tuple[dict[str, SettingValue], list[str]]:
        """Merge value layers (lowest precedence first) over the defaults.

        Each layer is ``(source, {key: raw value})`` with flat, possibly dotted keys. Unknown
        keys produce warnings (config files may hold typos or settings of newer versions);
        bad values raise :class:`SettingError`. Returns the values and the warnings.
        """
        values = {s.name: SettingValue(s.default, "default") for s in self.settings}
        warnings: list[str] = []
        for source, layer in layers:
            for key, raw in layer.items():
                setting = self.get(key)
                if setting is None:
                    warnings.append(
                        f"{source}: unknown setting {key!r} for {self.owner}, ignored."
                        f"{self.suggest(key)}"
                    )
                    continue
                value = setting.coerce(raw, source=source)
                values[setting.name] = SettingValue(value, source)
        for setting in self.settings:
            if setting.warn is not None and values[setting.name].value is not None:
                message = setting.warn(values[setting.name].value)
                if message:
                    warnings.append(f"{self.owner}: {setting.name}: {message}")
        return values, warnings


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested TOML tables into dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat
