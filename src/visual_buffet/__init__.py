"""Visual Buffet: tag photos on your own machine with pluggable taggers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("visual-buffet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
