"""`visual-buffet hardware`: what this machine offers the taggers."""

from __future__ import annotations

from typing import Annotated

import typer

from visual_buffet.cli.common import print_json


def hardware(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show CPU, RAM and accelerators (CUDA, Apple MPS), and what they mean for the taggers."""
    from visual_buffet.hardware import detect_hardware, recommendations

    hw = detect_hardware()
    advice = recommendations(hw)
    if json_out:
        print_json({**hw.to_dict(), "recommendations": advice})
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
