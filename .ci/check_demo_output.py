"""Check the output of Quick start step 1 (`scripts/demo`): the demo model's tags per example.

    python .ci/check_demo_output.py DEMO_OUTPUT.txt

Reads the table `visual-buffet tag examples/images --plugin siglip --variant demo` prints and
the true tags in examples/images/README.md. Every example image must be there, with every
object's colour and no colour it does not show (shapes are weaker on some of the examples:
docs/demo-model.md). Exit code 1 with a line per problem otherwise.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

COLOURS = {"red", "green", "blue", "yellow", "orange", "purple", "black", "white"}
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"
HEADER = re.compile(r"^(?P<file>\S+\.jpg)\s+\(siglip\)\s*$")
ROW = re.compile(r"^(?P<tag>[a-z]+)\s+│")


def true_tags() -> dict[str, set[str]]:
    """File name -> tags, from the table in examples/images/README.md."""
    table = {}
    for line in (EXAMPLES / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            table[cells[0].strip("`")] = {tag.strip() for tag in cells[2].split(",")}
    return table


def found_tags(output: str) -> dict[str, set[str]]:
    """File name -> tags printed for it."""
    found: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in output.splitlines():
        if header := HEADER.match(line):
            current = found.setdefault(Path(header["file"]).name, set())
        elif (row := ROW.match(line)) and current is not None and row["tag"] != "tag":
            current.add(row["tag"])
    return found


def problems(output: str) -> list[str]:
    """What is wrong with the demo's output (empty when it is right)."""
    expected, found = true_tags(), found_tags(output)
    wrong = []
    for name, tags in sorted(expected.items()):
        if name not in found:
            wrong.append(f"{name}: not in the output")
            continue
        if missing := (tags & COLOURS) - found[name]:
            wrong.append(f"{name}: colour(s) {', '.join(sorted(missing))} not tagged")
        if extra := (found[name] & COLOURS) - tags:
            wrong.append(f"{name}: wrong colour(s) {', '.join(sorted(extra))}")
    return wrong


def main() -> int:
    output = Path(sys.argv[1]).read_text(encoding="utf-8")
    wrong = problems(output)
    for line in wrong:
        print(f"demo output: {line}", file=sys.stderr)
    if not wrong:
        print(f"demo output: the colours of all {len(true_tags())} example images are right")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
