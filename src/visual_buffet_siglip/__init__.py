"""The SigLIP / SigLIP 2 tagger plugin for Visual Buffet.

Registered under the ``visual_buffet.plugins`` entry point as ``siglip``, like any
third-party plugin. Importing this package is cheap: torch and transformers are imported
when the model is loaded.
"""

from visual_buffet_siglip.plugin import SiglipPlugin

__all__ = ["SiglipPlugin"]
