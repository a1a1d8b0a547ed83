"""The Visual Buffet GUI: a local web app (Starlette + uvicorn, the ``gui`` extra).

``visual-buffet gui`` serves it on 127.0.0.1 with a per-launch access token (docs/gui.md):
the Library (thumbnails, tag filter, search), a Photo page, a Tag page with live progress and
the Settings panels, built from each plugin's settings schema. Nothing else in the package
imports this one: the CLI stays free of web-server imports.
"""
