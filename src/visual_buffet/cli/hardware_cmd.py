"""`visual-buffet hardware`: what this machine offers the taggers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from visual_buffet.cli.common import print_json

if TYPE_CHECKING:
    from visual_buffet.hardware import HardwareInfo


def hardware(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show CPU, RAM and accelerators (CUDA, Apple MPS), and what they mean for the taggers."""
    from visual_buffet.hardware import detect_hardware, recommendations

    hw = detect_hardware()
    advice = recommendations(hw)
    per_plugin = plugin_advice(hw)
    if json_out:
        print_json({**hw.to_dict(), "recommendations": advice, "plugins": per_plugin})
        return
    gib = 1024**3
    lines = [
        f"OS:      {hw.os}   Python {hw.python}",
        f"CPU:     {hw.cpu_model} ({hw.cpu_cores_logical} logical cores)",
        f"RAM:     {hw.ram_total_bytes / gib:.1f} GiB",
        f"torch:   {hw.torch_version or 'not installed'}",
    ]
    for acc in hw.accelerators:
        memory = f", {acc.total_memory_bytes / gib:.1f} GiB" if acc.total_memory_bytes else ""
        lines.append(f"GPU:     {acc.kind}: {acc.name}{memory}")
    if not hw.accelerators:
        lines.append("GPU:     none found (CUDA or Apple MPS)")
    typer.echo("\n".join(lines))
    typer.echo("\nWhat this means:")
    for line in advice:
        typer.echo(f"  - {line}")
    for name, plugin_lines in per_plugin.items():
        if plugin_lines:
            typer.echo(f"\n{name}:")
            for line in plugin_lines:
                typer.echo(f"  - {line}")


def plugin_advice(hw: HardwareInfo) -> dict[str, list[str]]:
    """Each imported plugin's :meth:`~visual_buffet.plugin_api.Plugin.hardware_advice`.

    A hook that raises gives a warning line in its place: one plugin must not break the
    report of the others.
    """
    from visual_buffet.discovery import discover_plugins

    found: dict[str, list[str]] = {}
    for name, info in discover_plugins().items():
        if info.plugin_class is None:
            continue  # `plugins list` reports plugins that failed to import
        try:
            found[name] = [str(line) for line in info.plugin_class.hardware_advice(hw)]
        except Exception as exc:
            found[name] = [f"warning: hardware advice failed: {type(exc).__name__}: {exc}"]
    return found
