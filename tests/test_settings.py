"""Typed settings: coercion of TOML and CLI values, messages, precedence of layers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from visual_buffet.settings import Schema, Setting, SettingError, flatten

THRESHOLD = Setting("threshold", "float", 0.1, "Lowest confidence.", minimum=0.0, maximum=1.0)
LIMIT = Setting("max_tags", "int", 10, "Most tags.", minimum=0, aliases=("limit",))
BATCH = Setting("batch_size", "int", "auto", "Batch.", minimum=1, maximum=32, auto=True)
QUALITY = Setting("quality", "choice", "standard", "Q.", choices=("quick", "standard", "max"))
FLAG = Setting("enabled", "bool", True, "On or off.")
NAME = Setting("model", "str", None, "A model id.")
VOCAB = Setting("vocabulary", "path", None, "A file.")


@pytest.mark.parametrize(
    ("setting", "raw", "expected"),
    [
        (THRESHOLD, 0.5, 0.5),
        (THRESHOLD, 1, 1.0),  # TOML integer for a float setting
        (THRESHOLD, " 0.25 ", 0.25),  # CLI string
        (THRESHOLD, 0, 0.0),
        (LIMIT, 3, 3),
        (LIMIT, "7", 7),
        (LIMIT, 4.0, 4),  # a whole float is fine
        (BATCH, "auto", "auto"),
        (BATCH, "AUTO", "auto"),
        (BATCH, "16", 16),
        (QUALITY, "MAX", "max"),
        (QUALITY, " quick", "quick"),
        (FLAG, True, True),
        (FLAG, "yes", True),
        (FLAG, "Off", False),
        (FLAG, "0", False),
        (NAME, "google/siglip", "google/siglip"),
        (VOCAB, "~/tags.txt", Path("~/tags.txt").expanduser()),
        (VOCAB, Path("/x/y.txt"), Path("/x/y.txt")),
    ],
)
def test_coerce_accepts(setting: Setting, raw: object, expected: object) -> None:
    value = setting.coerce(raw, source="test")
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("setting", "raw", "reason"),
    [
        (THRESHOLD, "high", "expected a number"),
        (THRESHOLD, True, "got a boolean"),
        (THRESHOLD, 1.5, "above the maximum 1"),
        (THRESHOLD, -0.1, "below the minimum 0"),
        (THRESHOLD, "nan", "finite"),
        (THRESHOLD, [0.1], "got list"),
        (LIMIT, 2.5, "got float"),
        (LIMIT, "2.5", "expected an integer"),
        (LIMIT, -1, "below the minimum 0"),
        (LIMIT, False, "got a boolean"),
        (BATCH, 0, "below the minimum 1"),
        (BATCH, 33, "above the maximum 32"),
        (BATCH, "lots", "expected an integer"),
        (QUALITY, "maxx", "did you mean 'max'"),
        (QUALITY, 3, "expected a string"),
        (FLAG, "maybe", "expected true or false"),
        (FLAG, 1, "expected true or false"),
        (NAME, 42, "expected a string, got int"),
        (VOCAB, "  ", "empty path"),
    ],
)
def test_coerce_rejects_with_key_value_source_and_allowed(
    setting: Setting, raw: object, reason: str
) -> None:
    with pytest.raises(SettingError) as caught:
        setting.coerce(raw, source="config file /x/config.toml")
    message = str(caught.value)
    assert message.startswith(f"config file /x/config.toml: {setting.name} = {raw!r}")
    assert reason in message
    assert f"Allowed: {setting.allowed()}." in message


def test_allowed_describes_every_kind() -> None:
    assert THRESHOLD.allowed() == "a number from 0 to 1"
    assert LIMIT.allowed() == "an integer >= 0"
    assert BATCH.allowed() == "auto, or an integer from 1 to 32"
    assert QUALITY.allowed() == "quick, standard, max"
    assert FLAG.allowed() == "true or false"
    assert NAME.allowed() == "a string"
    assert VOCAB.allowed().startswith("a file")
    assert "~ is expanded" in VOCAB.allowed()
    assert Setting("x", "float", 1.0, "", maximum=2.5).allowed() == "a number <= 2.5"
    assert Setting("x", "int", 1, "").allowed() == "an integer"


def test_to_toml_writes_paths_as_strings() -> None:
    assert VOCAB.to_toml(Path("/a/b.txt")) == "/a/b.txt"
    assert THRESHOLD.to_toml(0.5) == 0.5


SCHEMA = Schema("demo", [THRESHOLD, LIMIT, BATCH, QUALITY, FLAG, NAME])


def test_resolve_defaults_then_layers_in_order() -> None:
    values, warnings = SCHEMA.resolve(
        [
            ("config file c.toml", {"threshold": 0.3, "limit": 20}),
            ("--threshold", {"threshold": "0.7"}),
        ]
    )
    assert warnings == []
    assert values["threshold"].value == 0.7
    assert values["threshold"].source == "--threshold"
    assert values["max_tags"].value == 20  # given by its alias
    assert values["max_tags"].source == "config file c.toml"
    assert values["quality"].value == "standard"
    assert values["quality"].source == "default"


def test_resolve_warns_about_unknown_keys_with_a_suggestion() -> None:
    values, warnings = SCHEMA.resolve([("config file c.toml", {"threshhold": 0.3})])
    assert values["threshold"].value == 0.1
    assert len(warnings) == 1
    assert "unknown setting 'threshhold' for demo" in warnings[0]
    assert "Did you mean 'threshold'?" in warnings[0]


def test_resolve_raises_on_the_first_bad_value() -> None:
    with pytest.raises(SettingError, match=r"--set: quality = 'best'"):
        SCHEMA.resolve([("--set", {"quality": "best"})])


def test_warn_hook_runs_on_the_final_value() -> None:
    noisy = Setting("threshold", "float", 0.1, "", warn=lambda v: "high!" if v > 0.5 else None)
    _, warnings = Schema("p", [noisy]).resolve([("cli", {"threshold": "0.9"})])
    assert warnings == ["p: threshold: high!"]
    _, warnings = Schema("p", [noisy]).resolve([])
    assert warnings == []


def test_schema_rejects_a_key_declared_twice() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        Schema("p", [LIMIT, Setting("limit", "int", 1, "")])


def test_schema_lookups() -> None:
    schema = Schema("p", [Setting("threshold", "float", 0.1, "", flag="threshold"), LIMIT])
    assert schema.get("limit") is LIMIT
    assert schema.get("nope") is None
    assert schema.by_flag("threshold") is not None
    assert schema.by_flag("quality") is None
    assert "max_tags" in schema.suggest("max_tag")
    assert schema.suggest("zzzzzz") == ""


def test_flatten_nested_tables_to_dotted_keys() -> None:
    assert flatten({"a": 1, "naflex": {"max_num_patches": 256, "deep": {"x": True}}}) == {
        "a": 1,
        "naflex.max_num_patches": 256,
        "naflex.deep.x": True,
    }


def test_infinite_numbers_are_refused() -> None:
    with pytest.raises(SettingError, match="finite"):
        THRESHOLD.coerce(math.inf, source="s")
