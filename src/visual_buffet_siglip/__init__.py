"""The SigLIP / SigLIP 2 tagger plugin for Visual Buffet.

Registered under the ``visual_buffet.plugins`` entry point as ``siglip``, like any
third-party plugin. Importing this package is cheap: torch and transformers are imported
when the model is loaded.
"""

import os

# Nothing leaves the machine. ONNX Runtime (1.29 and later) starts usage telemetry on Linux and
# macOS as soon as it is imported: a device id under ~/.cache/Microsoft and uploads to
# Microsoft's collector. Only this variable, set before the import, prevents it (calling
# onnxruntime.disable_telemetry_events() afterwards is too late). Every onnxruntime import of
# this plugin happens below this package, so it opts out here; a value the user set wins.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from visual_buffet_siglip.plugin import SiglipPlugin

__all__ = ["SiglipPlugin"]
