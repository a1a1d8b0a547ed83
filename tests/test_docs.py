"""The docs cannot drift from the code: signatures, fields, settings and example excerpts."""

from __future__ import annotations

import dataclasses
import inspect
import re
import textwrap
from pathlib import Path

import pytest

from visual_buffet.config import HOST_SCHEMA
from visual_buffet.output import result_schema
from visual_buffet.plugin_api import TAG_FLAGS, ImageEmbeddings, ImageTags, Plugin, Tag, View
from visual_buffet.settings import Setting

REPO = Path(__file__).resolve().parents[1]
PLUGINS_MD = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
OUTPUT_MD = (REPO / "docs" / "output.md").read_text(encoding="utf-8")
CONFIGURATION_MD = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")

# Methods, classmethods and staticmethods, by their underlying function.
PLUGIN_METHODS = {
    name: getattr(value, "__func__", value)
    for name, value in vars(Plugin).items()
    if callable(getattr(value, "__func__", value))
    and (not name.startswith("_") or name == "__init__")
}


def test_every_plugin_method_is_documented_with_its_exact_signature() -> None:
    assert {"load", "prepare", "tag", "tag_stream", "close"} <= set(PLUGIN_METHODS)
    for name, function in PLUGIN_METHODS.items():
        signature = str(inspect.signature(function)).replace("'", "")
        assert f"def {name}{signature}" in PLUGINS_MD, name


def test_every_plugin_class_attribute_is_documented() -> None:
    attributes = [n for n in Plugin.__annotations__ if not n.startswith("_")]
    assert "settings_schema" in attributes
    for name in attributes:
        assert f"| `{name}` |" in PLUGINS_MD, name


@pytest.mark.parametrize("cls", [Setting, ImageTags, ImageEmbeddings, Tag, View])
def test_every_field_of_the_api_dataclasses_is_documented(cls: type) -> None:
    for field in dataclasses.fields(cls):
        assert re.search(rf"\b{field.name}\b", PLUGINS_MD), f"{cls.__name__}.{field.name}"


def test_every_dedicated_flag_is_documented() -> None:
    for flag in TAG_FLAGS:
        assert f"`--{flag}`" in PLUGINS_MD, flag
        assert f"`--{flag}`" in CONFIGURATION_MD, flag


def test_the_entry_point_group_and_allow_list_are_documented() -> None:
    assert "**`visual_buffet.plugins`**" in PLUGINS_MD
    assert "VISUAL_BUFFET_PLUGINS" in PLUGINS_MD


EXCERPT = re.compile(r"<!-- example: (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)```", re.S)


def test_example_excerpts_are_verbatim_from_the_example_plugin() -> None:
    excerpts = list(EXCERPT.finditer(PLUGINS_MD))
    assert len(excerpts) >= 6
    for match in excerpts:
        source = (REPO / match["path"]).read_text(encoding="utf-8")
        assert match["code"] in source, f"docs/plugins.md drifted from {match['path']}:\n" + (
            textwrap.indent(match["code"], "    ")
        )


def _schema_fields(node: dict) -> set[str]:
    return set(node.get("properties", {}))


def test_every_output_field_is_documented() -> None:
    defs = result_schema()["$defs"]
    fields = (
        _schema_fields(defs["document"])
        | _schema_fields(defs["document"]["properties"]["summary"])
        | _schema_fields(defs["record"])
        | _schema_fields(defs["record"]["properties"]["image"])
        | _schema_fields(defs["record"]["properties"]["error"]["oneOf"][1])
        | _schema_fields(defs["tag"])
        | _schema_fields(defs["tag"]["properties"]["found_in"])
    )
    assert {"found_in", "elapsed_s", "box", "schema_version"} <= fields
    for name in fields:
        assert f"`{name}`" in OUTPUT_MD, name
    assert "src/visual_buffet/schemas/result.schema.json" in OUTPUT_MD


def test_every_host_setting_is_documented_with_default_and_allowed() -> None:
    for setting in HOST_SCHEMA:
        default = str(setting.default).lower() if isinstance(setting.default, bool) else None
        default = default or (
            f'"{setting.default}"' if isinstance(setting.default, str) else str(setting.default)
        )
        row = f"| `{setting.name}` | `{default}` | {setting.allowed()} | {setting.help} |"
        assert row in CONFIGURATION_MD, row


def test_configuration_names_every_override() -> None:
    for text in ("VISUAL_BUFFET_CONFIG", "VISUAL_BUFFET_CACHE_DIR", "--config", "config path"):
        assert text in CONFIGURATION_MD, text
