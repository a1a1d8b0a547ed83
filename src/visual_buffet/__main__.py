"""`python -m visual_buffet` runs the command-line interface."""

from visual_buffet.cli import main

main()
