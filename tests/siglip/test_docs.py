"""docs/siglip.md cannot drift from the settings and variant tables in the code."""

from __future__ import annotations

import re
from pathlib import Path

from visual_buffet_siglip.settings import SETTINGS
from visual_buffet_siglip.variants import VARIANTS
from visual_buffet_siglip.views import QUALITY_LEVELS, plan_views

DOC = (Path(__file__).resolve().parents[2] / "docs" / "siglip.md").read_text(encoding="utf-8")


def table_rows(heading: str) -> dict[str, list[str]]:
    section = DOC.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[re.match(r"`([^`]+)`", cells[0]).group(1)] = cells
    return rows


def test_every_setting_is_documented_with_flag_default_and_allowed_values():
    rows = table_rows("Settings")
    for setting in SETTINGS:
        assert setting.name in rows, setting.name
        key, flag, default, allowed, _ = rows[setting.name]
        assert (f"`--{setting.flag}`" if setting.flag else "") == flag, setting.name
        assert setting.allowed() == allowed, setting.name
        for alias in setting.aliases:
            assert f"alias `{alias}`" in key
        if setting.default is not None:
            shown = str(setting.default).lower()
            assert default.strip("`") == shown, setting.name
    assert set(rows) == {s.name for s in SETTINGS} | {"enabled"}


def test_every_variant_is_documented_with_its_checkpoint():
    rows = table_rows("Variants")
    assert set(rows) == set(VARIANTS)
    for variant in VARIANTS.values():
        checkpoint = "bundled in the package" if variant.is_bundled else f"`{variant.model_id}`"
        assert checkpoint == rows[variant.name][1]


def test_documented_view_counts_match_the_planner():
    counts = {q: len(plan_views(q, (6000, 4000), min_window=384)) for q in QUALITY_LEVELS}
    text = ", ".join(f"{q} {n}" for q, n in counts.items())
    assert f"for a 6000×4000 photo: {text}" in " ".join(DOC.split())
