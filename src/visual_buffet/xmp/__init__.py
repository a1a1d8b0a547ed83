"""XMP sidecars: tags where photo managers read them, safe to merge, repeat and undo.

Standard library only (docs/xmp.md says why). :mod:`.packet` reads and writes one XMP
packet, :mod:`.record` is this project's own record in it, :mod:`.merge` puts a run's
keywords in and takes them back out, :mod:`.sidecar` names, writes and removes the files
beside the images, :mod:`.batch` does it for many.
"""

from visual_buffet.xmp.packet import XmpError, XmpPacket
from visual_buffet.xmp.record import VB_NS, KeywordOptions, Run, RunTag
from visual_buffet.xmp.sidecar import (
    SidecarError,
    SidecarLocator,
    SidecarResult,
    SidecarSink,
    XmpSettings,
    remove_image,
    run_from_record,
    write_record,
)

__all__ = [
    "VB_NS",
    "KeywordOptions",
    "Run",
    "RunTag",
    "SidecarError",
    "SidecarLocator",
    "SidecarResult",
    "SidecarSink",
    "XmpError",
    "XmpPacket",
    "XmpSettings",
    "remove_image",
    "run_from_record",
    "write_record",
]
