"""The plugin contract: everything a tagger plugin implements and receives.

A plugin is a subclass of :class:`Plugin`, published under the entry-point group
:data:`ENTRY_POINT_GROUP`; the entry name is the plugin name::

    [project.entry-points."visual_buffet.plugins"]
    mytagger = "my_package:MyTaggerPlugin"

Life of a plugin in one ``visual-buffet tag`` run:

1. The host imports the class (cheap: module import must not load models) and reads its
   class attributes: name, version, description, :attr:`Plugin.settings_schema`.
2. It resolves settings (defaults < ``[plugins.NAME]`` in the config file < CLI flags) and
   constructs the plugin with the typed values: ``MyPlugin(settings)``.
3. It calls :meth:`Plugin.load` once (heavy work: weights, caches).
4. Worker threads decode images (at most :meth:`Plugin.max_image_side` pixels on the longer
   side) and call :meth:`Plugin.prepare` on each; the main thread feeds the prepared items to
   :meth:`Plugin.tag_stream` and writes each :class:`ImageTags` as soon as it arrives.

Version 2 of the contract adds what a library store needs (every hook has a default, so a
version-1 plugin works unchanged and its results are stored and reused as they are):

- :meth:`Plugin.result_identity`: cheap and model-free, what decides a plugin's result for an
  image (default: plugin version + all settings). A stored result with the same identity is
  reused without running the plugin.
- Plugins that set :attr:`Plugin.provides_embeddings` attach :class:`ImageEmbeddings` (every
  view's vector) to each :class:`ImageTags`, name them with :meth:`Plugin.embedding_identity`,
  and can re-score stored embeddings with the current settings (:meth:`Plugin.rescore`),
  encode query texts (:meth:`Plugin.encode_text`) and score texts against stored vectors
  (:meth:`Plugin.score_embeddings`) without a vision forward pass.

``docs/plugins.md`` walks through a complete example plugin (``examples/plugin``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from visual_buffet.images import LoadedImage
from visual_buffet.settings import Setting

if TYPE_CHECKING:
    import numpy as np

if TYPE_CHECKING:
    from visual_buffet.hardware import HardwareInfo

ENTRY_POINT_GROUP = "visual_buffet.plugins"
"""Entry-point group the host scans for plugins (all versions of this contract)."""

API_VERSION = 2
"""Version of this contract. 2 added result identities and the embedding capability; every
version-2 hook has a default, so version-1 plugins run unchanged."""

TAG_FLAGS = (
    "quality",
    "threshold",
    "limit",
    "variant",
    "batch-size",
    "quantization",
    "attention",
    "dtype",
    "vocabulary",
)
"""The dedicated ``visual-buffet tag`` flags a plugin may bind with ``Setting(flag=...)``.

Any other setting is reachable with ``--set KEY=VALUE``. The host rejects a flag that none of
the chosen plugins declares.
"""


class PluginError(Exception):
    """A problem a user can fix (missing weights, a bad setting combination, offline Hub...).

    The message is shown as is: name the thing, what was wrong and what to do.
    """


@dataclass(frozen=True)
class View:
    """Where in the image a tag was found (for plugins that look at parts of the image).

    Attributes:
        pass_name: The quality pass (``"480"``, ``"2048"``, ``"original"``).
        resolution: Longer side, in pixels, of the image at that pass.
        kind: ``"whole"`` for the whole image, ``"window"`` for a part of it.
        box: ``(left, top, right, bottom)`` of the view in original-image pixels.
    """

    pass_name: str
    resolution: int
    kind: Literal["whole", "window"]
    box: tuple[int, int, int, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "pass": self.pass_name,
            "resolution": self.resolution,
            "view": self.kind,
            "box": list(self.box),
        }


@dataclass(frozen=True)
class Tag:
    """One tag of one image. ``confidence`` is in [0, 1]."""

    label: str
    confidence: float
    found_in: View | None = None
    parents: tuple[str, ...] = ()
    """The label's ancestors in the vocabulary, root first (``("animal",)`` for ``dog``)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "confidence": round(self.confidence, 6)}
        if self.found_in is not None:
            out["found_in"] = self.found_in.to_dict()
        if self.parents:
            out["parents"] = list(self.parents)
        return out


@dataclass
class ImageEmbeddings:
    """The embedding of every view of one image (plugins with ``provides_embeddings``).

    Attributes:
        views: The views, in the order of ``vectors``' rows (boxes in original pixels).
        vectors: ``numpy.ndarray`` (len(views), dim), float32, each row L2-normalised.
        scoring: JSON-able values re-scoring needs besides the text embeddings (SigLIP:
            ``{"scale": exp(logit_scale), "bias": logit_bias, "text_key": {...}}``).
    """

    views: list[View]
    vectors: np.ndarray
    scoring: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImageTags:
    """What a plugin returns for one image.

    Attributes:
        tags: Sorted by confidence, highest first, already thresholded and limited.
        model: Free metadata about the model (id, variant, device...), JSON-serialisable.
        timings: Milliseconds spent on this image by stage (``"model_ms"``...).
        settings: Effective values the plugin used where they differ from what it was given
            (``{"dtype": "float32"}`` when ``auto`` was asked for).
        embeddings: The image's view embeddings (plugins with ``provides_embeddings``; None
            otherwise). The host stores them; they never go into output records.
    """

    tags: list[Tag]
    model: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    embeddings: ImageEmbeddings | None = None


class Plugin(ABC):
    """Base class of every tagger plugin.

    Subclasses set the class attributes and implement :meth:`tag` (or :meth:`tag_stream`).
    Importing the module that defines a plugin must be cheap; do heavy imports in
    :meth:`load`.
    """

    name: ClassVar[str]
    """Plugin name; must equal the entry-point name."""
    version: ClassVar[str] = "0"
    description: ClassVar[str] = ""
    settings_schema: ClassVar[tuple[Setting, ...]] = ()
    """The settings this plugin accepts. ``enabled`` is added by the host."""
    calibrated: ClassVar[bool] = False
    """True when confidences are real probabilities (e.g. independent sigmoid scores)."""
    recommended_threshold: ClassVar[float | None] = None
    """The threshold the plugin's authors recommend, shown by ``plugins info``."""
    enabled_by_default: ClassVar[bool] = False
    """Whether ``visual-buffet tag`` without ``--plugin`` uses this plugin."""
    provides_embeddings: ClassVar[bool] = False
    """Contract v2: True when the plugin attaches :class:`ImageEmbeddings` to its results and
    implements :meth:`embedding_identity`, :meth:`rescore`, :meth:`encode_text` and
    :meth:`score_embeddings`."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        """Store validated settings. Must not load models."""
        self.settings = dict(settings)

    def load(self) -> None:  # noqa: B027 - optional hook
        """Do the heavy work (load weights, build caches). Called before tagging.

        May be called again on an instance that is already loaded (a GUI reusing a warm
        plugin): it must then return quickly.
        """

    def setup(self, report: Callable[[str], None]) -> None:
        """Fetch what the plugin needs ahead of time (``visual-buffet plugins setup NAME``).

        ``report`` prints a progress line. Raise :class:`PluginError` on failure.
        """
        report(f"{self.name}: nothing to set up.")

    def max_image_side(self) -> int | None:
        """Longest image side the plugin will use (None: full size).

        The host decodes cheaply to a longer side from this up to twice this (JPEG draft
        scale, integer box reduction) and never below it; the plugin does the final resize.
        """
        return None

    def batch_size(self) -> int:
        """How many prepared images :meth:`tag_stream` groups per :meth:`tag` call."""
        return 8

    def prepare(self, image: LoadedImage) -> Any:
        """Per-image CPU work (resizing, cropping, tensors). Runs in worker threads.

        Must be thread-safe. Raise an exception to record an error for this image only.
        """
        return image

    @abstractmethod
    def tag(self, items: Sequence[Any]) -> list[ImageTags]:
        """Tag a batch of prepared items; return one :class:`ImageTags` per item, in order."""

    def tag_stream(self, items: Iterable[Any]) -> Iterator[ImageTags]:
        """Tag prepared items as they arrive; yield one result per item, in input order.

        The default groups items by :meth:`batch_size` and calls :meth:`tag`. Plugins that
        batch differently (e.g. several views per image) override this.
        """
        iterator = iter(items)
        while batch := list(islice(iterator, self.batch_size())):
            results = self.tag(batch)
            if len(results) != len(batch):
                raise RuntimeError(
                    f"plugin {self.name!r} returned {len(results)} results for {len(batch)} images"
                )
            yield from results

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources at the end of a run."""

    # -- contract v2: identities and embeddings -------------------------------------------
    def result_identity(self) -> dict[str, Any]:
        """What decides this plugin's result for an image, JSON-able; cheap and model-free.

        A library store reuses a stored result only when this is equal. The default is the
        plugin's name, version and every setting; override it to leave out settings that do
        not change results (batch size) or to add what does (a hash of a file a setting
        names). Called before :meth:`load`; must not load models or import heavy modules.
        """
        return {"plugin": self.name, "version": self.version, "settings": jsonable(self.settings)}

    def embedding_identity(self) -> dict[str, Any] | None:
        """What decides the view embeddings (model identity + view settings), JSON-able.

        None for plugins without ``provides_embeddings``. Cheap and model-free like
        :meth:`result_identity`: stored embeddings with an equal identity are re-scored
        instead of running the model.
        """
        return None

    def rescore(self, stored: Sequence[ImageEmbeddings]) -> list[ImageTags]:
        """Tags from stored embeddings with the current settings and vocabulary.

        One :class:`ImageTags` per item, in order, equal to what :meth:`tag_stream` gives for
        the same image. Needs no vision forward pass (it may load text embeddings).
        """
        raise NotImplementedError(f"plugin {self.name!r} cannot re-score embeddings")

    def encode_text(
        self, texts: Sequence[str], scoring: Mapping[str, Any] | None = None
    ) -> np.ndarray:
        """Query texts as normalised vectors (len(texts), dim), float32, in the views' space.

        Texts are prepared exactly as the plugin prepares its labels (SigLIP: normalised and
        templated), so :meth:`score_embeddings` gives the score a tag would get. ``scoring``
        is the stored :attr:`ImageEmbeddings.scoring` of the vectors they will be scored
        against (a plugin may find cached text embeddings under it).
        """
        raise NotImplementedError(f"plugin {self.name!r} cannot encode text")

    def score_embeddings(
        self, texts: np.ndarray, vectors: np.ndarray, scoring: Mapping[str, Any]
    ) -> np.ndarray:
        """Scores (len(vectors), len(texts)) in [0, 1] of stored view vectors for text vectors.

        ``scoring`` is the stored :attr:`ImageEmbeddings.scoring` of those vectors. Needs no
        model: a store can be searched with the plugin merely constructed.
        """
        raise NotImplementedError(f"plugin {self.name!r} cannot score embeddings")

    @classmethod
    def hardware_advice(cls, hardware: HardwareInfo) -> list[str]:
        """Lines for ``visual-buffet hardware`` on how this plugin will run here (device,
        dtype, batch size, which models fit). Must not load models; may import torch."""
        return []


def jsonable(value: Any) -> Any:
    """``value`` with paths as strings and tuples as lists: what JSON would keep of it."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
