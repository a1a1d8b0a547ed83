"""Train the demo model: a tiny SigLIP that tags coloured shapes, on the CPU.

    python -m visual_buffet_siglip.demo.train --out DIR [--init-from DIR] [options]

``--init-from`` continues a saved model; with another ``--image-size`` than the saved one it
continues at that size (``resized``).

The shipped model took two runs (29 min on 2 cores): the defaults are the first run,
docs/demo-model.md has the second run's flags.

Every training image is drawn from its own seeds
(``numpy.random.default_rng([TRAIN_STREAM, seed, step, index])``; evaluation and validation use
other streams), so the model never sees an evaluation image. ``--distinct-batches`` draws a
fixed set of such batches up front and replays them (``ReplayBatches``); without it every
step draws a fresh batch.

Recipe (see docs/demo-model.md for why each part is there):

1. Text tower: trained alone for ``text_steps`` to push the embeddings of all prompts
   ("this is a photo of {tag}." for the tags and for ``DISTRACTOR_WORDS``) apart, then frozen.
2. Curriculum: the first ``easy_fraction`` of steps use one large object (20-70 % of the
   image side) per image and no specks; then the full distribution (1-3 objects from 8 % of
   the side, untagged specks that teach it to ignore tiny things).
3. Tag head (training only): a linear layer on the image tower's pooled output. It is not
   saved: at inference the model scores tags through its text tower like any SigLIP.
4. ``shape_first``: during the single-object phase the loss is only ``shape_loss``, a
   six-way cross-entropy over the tag head's shape logits: the tower learns shape before
   colour can take over its features.
5. Otherwise the loss is SigLIP's, binary cross-entropy on
   ``exp(logit_scale) * cos(image, text) + logit_bias`` for every image and every prompt (tags
   that apply are positives; other tags and all distractors negatives), plus the tag head's
   binary cross-entropy on the tags and ``shape_loss_weight`` times ``shape_loss``. Prompts
   are tokenized exactly as at inference: lower case, ``padding="max_length"``, 64 tokens,
   ``input_ids``.
6. Windows: after the first phase, a ``crop_fraction`` of the images are windows of larger
   scenes, as the quality passes show a photo (``crop_scene``): a shape the window cuts is
   not named.
7. Calibration: temperature and bias are set on validation images so that the product's
   default threshold (0.01) balances precision and recall (``calibrate``).

Determinism: fixed seeds, ``torch.use_deterministic_algorithms``, data drawn per step
independent of worker count. Bit-identical weights need the same torch build and thread count.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from visual_buffet_siglip.demo.evaluate import prompt_input_ids
from visual_buffet_siglip.demo.shapes import (
    COLOURS,
    DEMO_TAGS,
    SHAPES,
    Palette,
    random_image_size,
    render_scene,
    tags_for,
)
from visual_buffet_siglip.letterbox import PAD_TO_SQUARE_KEY, pad_mode, processor_pixels
from visual_buffet_siglip.loading import quiet_transformers
from visual_buffet_siglip.synthetic import VOCABULARY_WORDS, build_siglip_tokenizer
from visual_buffet_siglip.variants import DEMO_VOCABULARY_FILE

TRAIN_STREAM = 0
"""First element of every training seed (evaluation: 1, validation during training: 2)."""
VALIDATION_STREAM = 2
CALIBRATION_TOLERANCE = 0.005
"""How far below the best weakest precision / recall a steeper calibration may be: about
two of ``calibrate``'s 384 validation images."""
CUT_SHAPE_VISIBLE = 0.6
"""Share of a cut object's bounding box in a window above which its shape is not ruled out."""

# Nouns with nothing to do with colours or shapes: trained as negatives so that labels outside
# the demo vocabulary stay below the threshold.
DISTRACTOR_WORDS: tuple[str, ...] = tuple(
    word
    for word in VOCABULARY_WORDS[VOCABULARY_WORDS.index("cat") : VOCABULARY_WORDS.index("big")]
    if word not in DEMO_TAGS
)


@dataclass(frozen=True)
class TrainConfig:
    """Architecture and recipe. The defaults are the shipped model's first run (its
    ``training-stage1.json``); the second run sets its flags on top (docs/demo-model.md)."""

    image_size: int = 64
    patch_size: int = 8
    hidden_size: int = 64
    vision_layers: int = 4
    text_layers: int = 2
    heads: int = 4
    mlp_ratio: int = 4
    steps: int = 6000
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    scalar_lr_multiplier: float = 20.0
    text_steps: int = 40
    text_learning_rate: float = 1e-3
    tag_head_weight: float = 1.0
    shape_loss_weight: float = 1.0
    shape_first: bool = True
    easy_fraction: float = 0.5
    crop_fraction: float = 0.3
    everyday_fraction: float = 0.0
    photo_canvas_fraction: float = 0.0
    pad_to_square: str = ""
    distinct_batches: int = 400
    seed: int = 0
    threads: int = 2
    workers: int = 2
    device: str = "cpu"
    validate_every: int = 1000
    init_from: str = ""
    calibrate: bool = True


def build_model(config: TrainConfig, vocab_size: int, pad_id: int, eos_id: int):
    """A randomly initialised SiglipModel with the demo architecture."""
    from transformers import SiglipConfig, SiglipModel

    tower = {
        "hidden_size": config.hidden_size,
        "intermediate_size": config.hidden_size * config.mlp_ratio,
        "num_attention_heads": config.heads,
    }
    model_config = SiglipConfig(
        text_config={
            **tower,
            "num_hidden_layers": config.text_layers,
            "vocab_size": vocab_size,
            "max_position_embeddings": 64,
            "pad_token_id": pad_id,
            "bos_token_id": None,
            "eos_token_id": eos_id,
        },
        vision_config={
            **tower,
            "num_hidden_layers": config.vision_layers,
            "image_size": config.image_size,
            "patch_size": config.patch_size,
        },
    )
    model = SiglipModel(model_config)
    with torch.no_grad():
        # SigLIP's initial temperature and bias (transformers 5 initialises both to zero).
        model.logit_scale.fill_(math.log(10.0))
        model.logit_bias.fill_(-10.0)
    return model


def saved_architecture(model_config) -> dict[str, int]:
    """The ``TrainConfig`` architecture fields of a saved model (``--init-from`` continues it
    whatever the flags say, except ``--image-size``: see ``resized``; its training.json must
    record what was trained)."""
    vision, text = model_config.vision_config, model_config.text_config
    return {
        "image_size": vision.image_size,
        "patch_size": vision.patch_size,
        "hidden_size": vision.hidden_size,
        "vision_layers": vision.num_hidden_layers,
        "text_layers": text.num_hidden_layers,
        "heads": vision.num_attention_heads,
        "mlp_ratio": vision.intermediate_size // vision.hidden_size,
    }


def resized(model, image_size: int):
    """The same SiglipModel for `image_size` input, its position embeddings resized bicubically
    (as ``interpolate_pos_encoding`` does): ``--init-from`` a model trained on smaller images
    continues it at ``--image-size`` (progressive resizing: a step at 32 px costs a fifth of
    one at 64 px)."""
    import copy

    from transformers import SiglipModel

    config = copy.deepcopy(model.config)
    config.vision_config.image_size = image_size
    state = model.state_dict()
    embeddings = model.vision_model.embeddings
    with torch.no_grad():  # the empty tensor only says "other patch count" and the width
        grid = embeddings.interpolate_pos_encoding(
            torch.empty(1, 0, embeddings.embed_dim), image_size, image_size
        )
    state["vision_model.embeddings.position_embedding.weight"] = grid[0]
    new = SiglipModel(config)
    new.load_state_dict(state)
    return new


def build_processor(config: TrainConfig, tokenizer):
    """SiglipProcessor configured like the released ones, at the demo resolution."""
    from transformers import SiglipImageProcessor, SiglipProcessor

    image_processor = SiglipImageProcessor(
        do_resize=True,
        size={"height": config.image_size, "width": config.image_size},
        resample=3,  # bicubic
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    return SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer)


def training_scene(
    rng: np.random.Generator,
    image_size: int,
    easy: bool,
    palette: Palette = "muted",
    canvas: tuple[int, int] | None = None,
):
    """One training image and its objects; on a `canvas` of that size if given."""
    size = canvas or random_image_size(rng, (2 * image_size, 4 * image_size))
    if easy:
        return render_scene(rng, size, 1, 0.20, 0.70, palette=palette)
    n_objects = int(rng.choice([1, 2, 3], p=[0.55, 0.25, 0.20]))
    specks = int(rng.choice([0, 1, 2, 3], p=[0.5, 0.25, 0.15, 0.10]))
    max_rel = 0.70 if n_objects == 1 else 0.45
    return render_scene(rng, size, n_objects, 0.08, max_rel, specks=specks, palette=palette)


def crop_scene(rng: np.random.Generator, image_size: int, palette: Palette = "muted"):
    """A window of a larger scene, as the quality passes show one: (image, tags, ignored).

    Objects wholly inside the window keep their tags. An object the window cuts is left
    open: its colour is neither asked for nor ruled out (``ignored``), and so is its shape
    while most of it shows (``CUT_SHAPE_VISIBLE`` of its bounding box or more); when less
    shows, its shape counts as absent (a negative, unless a whole object has it). This
    teaches the model not to name a shape from an arc or an edge.
    """
    width, height = random_image_size(rng, (2 * image_size, 4 * image_size))
    scale = rng.uniform(1.5, 2.5)
    canvas = (round(width * scale), round(height * scale))
    n_objects = int(rng.choice([1, 2, 3], p=[0.4, 0.3, 0.3]))
    image, specs = render_scene(rng, canvas, n_objects, 0.08, 0.45, palette=palette)
    left = int(rng.integers(0, canvas[0] - width + 1))
    top = int(rng.integers(0, canvas[1] - height + 1))
    right, bottom = left + width, top + height
    whole, cut = [], []
    for spec in specs:
        x0, y0, x1, y1 = spec.bbox()
        shown_x = max(0.0, min(x1, right) - max(x0, left))
        shown_y = max(0.0, min(y1, bottom) - max(y0, top))
        shown = shown_x * shown_y / max((x1 - x0) * (y1 - y0), 1e-9)
        if shown >= 1.0:
            whole.append(spec)
        elif shown > 0 and spec.tagged:
            cut.append((spec, shown))
    tags = tags_for(whole)
    ignored = {spec.colour for spec, _ in cut}
    ignored |= {spec.shape for spec, shown in cut if shown >= CUT_SHAPE_VISIBLE}
    return image.crop((left, top, right, bottom)), tags, ignored - tags


def is_easy(config: TrainConfig, step: int) -> bool:
    """Whether `step` is in the curriculum's first phase (one large object, no crops)."""
    return step < config.easy_fraction * config.steps


class StepBatches(torch.utils.data.Dataset):
    """Batch `step` of the run: preprocessed pixels, multi-hot tag targets and loss weights.

    A weight is 0 for a tag the image neither shows nor rules out (``crop_scene``), else 1.
    After the single-object phase, a ``crop_fraction`` of the images are windows
    (``crop_scene``), decided and drawn from their own seeds, so a run without crops draws
    exactly the images it always did.
    """

    def __init__(self, config: TrainConfig, image_processor) -> None:
        self.config = config
        self.image_processor = image_processor

    def __len__(self) -> int:
        return self.config.steps

    def __getitem__(self, step: int):
        config = self.config
        easy = is_easy(config, step)
        images, targets = [], torch.zeros(config.batch_size, len(DEMO_TAGS))
        weights = torch.ones_like(targets)
        for index in range(config.batch_size):
            ignored: set[str] = set()
            palette = _palette(config, step, index)
            crop_rng = np.random.default_rng([TRAIN_STREAM, config.seed, step, index, 1])
            if config.crop_fraction and not easy and crop_rng.random() < config.crop_fraction:
                image, tags, ignored = crop_scene(crop_rng, config.image_size, palette)
            else:
                rng = np.random.default_rng([TRAIN_STREAM, config.seed, step, index])
                canvas = _photo_canvas(config, step, index)
                image, specs = training_scene(rng, config.image_size, easy, palette, canvas)
                tags = tags_for(specs)
            images.append(image)
            for tag in tags:
                targets[index, DEMO_TAGS.index(tag)] = 1.0
            for tag in ignored:
                weights[index, DEMO_TAGS.index(tag)] = 0.0
        pixels = processor_pixels(self.image_processor, images)  # letterboxed if asked
        return pixels, targets, weights


def _palette(config: TrainConfig, step: int, index: int) -> Palette:
    """The palette of image `index` of batch `step`: ``everyday`` for an
    ``everyday_fraction`` of them, decided from a seed of its own (so a run without it draws
    the images it always did)."""
    if not config.everyday_fraction:
        return "muted"
    rng = np.random.default_rng([TRAIN_STREAM, config.seed, step, index, 2])
    return "everyday" if rng.random() < config.everyday_fraction else "muted"


def _photo_canvas(config: TrainConfig, step: int, index: int) -> tuple[int, int] | None:
    """A 4:3 or 3:2 canvas (either way up) for a ``photo_canvas_fraction`` of the images that
    are not windows, else None (the usual canvas, mostly near square). Squashed to the
    model's square input, such canvases are where a rectangle comes closest to a square."""
    if not config.photo_canvas_fraction:
        return None
    rng = np.random.default_rng([TRAIN_STREAM, config.seed, step, index, 3])
    if rng.random() >= config.photo_canvas_fraction:
        return None
    ratio = (4 / 3, 3 / 2)[int(rng.integers(2))]
    longest = int(rng.integers(2 * config.image_size, 4 * config.image_size + 1))
    shortest = round(longest / ratio)
    return (longest, shortest) if rng.random() < 0.5 else (shortest, longest)


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def _step_loader(dataset, workers: int):
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        worker_init_fn=_worker_init if workers else None,
        prefetch_factor=2 if workers else None,
    )


class ReplayBatches:
    """``distinct_batches`` batches drawn before training, replayed with random mirroring.

    Drawing costs 2.2 ms of one core per image, about as much as training on it, and drawing
    alongside training makes the two fight for the same cores: on this project's 2-core
    machine a step of the width-128 model took 0.75 s drawing alongside and 0.57 s
    replaying a set drawn up front (in ``workers`` processes). The batches are
    those of steps spread evenly over the run, so the curriculum's phases keep their share;
    step `s` replays a batch of its own phase, chosen from the seed, each image mirrored
    left-right with probability 1/2 (every tag survives a mirror; rotations would show
    triangles and stars in poses the generator never draws). Pixels are kept as the bytes
    the image processor started from, a quarter of the memory of float32.
    """

    def __init__(self, config: TrainConfig, image_processor) -> None:
        self.config = config
        drawn_at = [
            i * config.steps // config.distinct_batches for i in range(config.distinct_batches)
        ]
        self.pixels, self.targets, self.weights = [], [], []
        source = torch.utils.data.Subset(StepBatches(config, image_processor), drawn_at)
        for pixels, targets, weights in _step_loader(source, config.workers):
            # SigLIP's processor maps byte k to 2k/255 - 1: stored back as k, exactly.
            self.pixels.append(((pixels + 1) * 127.5).round().to(torch.uint8))
            self.targets.append(targets)
            self.weights.append(weights)
        self.phases = {
            easy: [i for i, step in enumerate(drawn_at) if is_easy(config, step) == easy]
            for easy in (True, False)
        }

    def __len__(self) -> int:
        return self.config.steps

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.config.seed)
        for step in range(self.config.steps):
            easy = is_easy(self.config, step)
            pool = self.phases[easy] or self.phases[not easy]  # a phase may have no batch
            index = pool[int(torch.randint(len(pool), (1,), generator=generator))]
            pixels = self.pixels[index].float() / 127.5 - 1
            mirrored = torch.rand(len(pixels), generator=generator) < 0.5
            pixels[mirrored] = pixels[mirrored].flip(-1)
            yield pixels, self.targets[index], self.weights[index]


def _parameter_groups(modules: Sequence[torch.nn.Module], config: TrainConfig) -> list[dict]:
    decay, no_decay, scalars = [], [], []
    for module in modules:
        for name, parameter in module.named_parameters():
            if not parameter.requires_grad:
                continue
            if name.startswith("logit_"):
                scalars.append(parameter)
            # No decay on norms, biases and position embeddings.
            elif parameter.ndim < 2 or "position_embedding" in name:
                no_decay.append(parameter)
            else:
                decay.append(parameter)
    lr = config.learning_rate
    return [
        {"params": decay, "weight_decay": config.weight_decay, "lr": lr},
        {"params": no_decay, "weight_decay": 0.0, "lr": lr},
        # Adam moves a parameter by about lr per step: the temperature and bias start at
        # log(10) and -10 (SigLIP's init) and must travel several units in a short run.
        {"params": scalars, "weight_decay": 0.0, "lr": lr * config.scalar_lr_multiplier},
    ]


def shape_loss(
    tag_logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, columns: list[int]
) -> torch.Tensor:
    """Softmax cross-entropy over the tag head's shape logits, on images with exactly one shape.

    Binary cross-entropy per tag lets the tower settle for colour, which it learns first;
    a six-way choice between the shapes is the plain classification gradient that taught
    this tower shape in a probe. Images with two shapes, or a cut object whose shape is
    left open, are skipped.
    """
    shapes, known = targets[:, columns], (weights[:, columns] == 1).all(dim=1)
    one = known & (shapes.sum(dim=1) == 1)
    if not one.any():
        return tag_logits.new_zeros(())
    return F.cross_entropy(tag_logits[one][:, columns], shapes[one].argmax(dim=1))


def spread_prompts(model, input_ids: torch.Tensor, steps: int, learning_rate: float) -> float:
    """Stage 1: train the text tower alone until the prompts' embeddings point apart.

    A fresh text tower embeds every "this is a photo of X." almost identically (the pooled
    token is the last padding token). Trained jointly from there, the six shape prompts stay
    identical: the image tower learns colour first, and identical shape targets give it no
    gradient towards shape. Pushing the prompts apart first breaks that symmetry.
    Returns the final mean squared cosine between different prompts.
    """
    optimizer = torch.optim.AdamW(model.text_model.parameters(), lr=learning_rate)
    off_diagonal = ~torch.eye(len(input_ids), dtype=torch.bool)
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        text = F.normalize(model.get_text_features(input_ids=input_ids).pooler_output, dim=-1)
        loss = (text @ text.T)[off_diagonal].pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def _validation_scenes(seeds, draw) -> tuple[list, list[set[str]]]:
    """The images ``draw(numpy.random.default_rng(seed))`` makes, one per seed, and their tags."""
    scenes = [draw(np.random.default_rng(seed)) for seed in seeds]
    return [image for image, _ in scenes], [tags_for(specs) for _, specs in scenes]


def _validate(model, processor, count: int = 128) -> dict[str, float]:
    """Quick check on validation images (their own seed stream): argmax accuracy, P/R @ 0.01."""
    from visual_buffet_siglip.demo.evaluate import precision_recall, score_images, tag_metrics

    images, truths = _validation_scenes(
        ([VALIDATION_STREAM, index] for index in range(count)),
        lambda rng: render_scene(rng, random_image_size(rng, (256, 512)), 1, 0.08, 0.7),
    )
    model.eval()
    scores = score_images(model, processor, images)
    model.train()
    shape_columns = [DEMO_TAGS.index(s) for s in SHAPES]
    best = np.array(SHAPES)[scores[:, shape_columns].argmax(axis=1)]
    truth = np.array([next(t for t in tags if t in SHAPES) for tags in truths])
    return {
        "shape_argmax_accuracy": round(float(np.mean(best == truth)), 3),
        **{k: round(v, 3) for k, v in precision_recall(tag_metrics(scores, truths)).items()},
    }


def steepest_near_best(
    scored: dict[tuple[float, float], tuple[float, float]],
) -> tuple[float, float]:
    """The steepest ``(scale, bias)`` whose weakest precision / recall is within
    ``CALIBRATION_TOLERANCE`` of the best; at that scale, the best (weakest, mean) bias.

    ``scored`` maps each grid point to its (weakest, mean) of the four numbers.
    """
    best = max(weakest for weakest, _ in scored.values())
    near = [
        pair for pair, (weakest, _) in scored.items() if weakest >= best - CALIBRATION_TOLERANCE
    ]
    return max(near, key=lambda pair: (pair[0], scored[pair]))


def calibrate(model, processor, *, count: int = 384, everyday: bool = False) -> dict[str, float]:
    """Set temperature and bias so the product's default threshold (0.01) suits the model.

    Platt scaling of SigLIP's two scalars, from the towers' cosines alone (so the result does
    not depend on the scalars it starts from): on validation images of one object at 20-70 %
    of the image side (their own seed stream; the sizes this 64 px model resolves, which is
    what the quality passes' windows bring small objects to), finds the best weakest of
    colour / shape precision / recall at the threshold, and picks the steepest
    ``logit_scale`` (with its best ``logit_bias``) whose weakest is within
    ``CALIBRATION_TOLERANCE`` of that: the optimum is flat across scales, and a steep one
    puts clear cases far from the threshold (colour at 0.98 rather than 0.06). Returns the
    old and new values and those four numbers.
    """
    from visual_buffet_siglip.demo.evaluate import (
        image_text_cosines,
        precision_recall,
        tag_metrics,
    )

    image_size = model.config.vision_config.image_size
    images, truths = _validation_scenes(
        ([VALIDATION_STREAM, 1, index] for index in range(count)),
        lambda rng: training_scene(rng, image_size, easy=True),
    )
    if everyday:  # as many again in the everyday palette, from a stream of their own
        more, more_truths = _validation_scenes(
            ([VALIDATION_STREAM, 3, index] for index in range(count)),
            lambda rng: training_scene(rng, image_size, easy=True, palette="everyday"),
        )
        images, truths = images + more, truths + more_truths
    model.eval()
    cosines = image_text_cosines(model, processor, images).astype(np.float64)

    def quality(scale: float, bias: float) -> tuple[tuple[float, float], dict[str, float]]:
        values = precision_recall(
            tag_metrics(1.0 / (1.0 + np.exp(-(cosines * scale + bias))), truths)
        )
        # The weakest of the four, then their mean.
        return (min(values.values()), float(np.mean(list(values.values())))), values

    scored = {
        (float(scale), float(bias)): quality(scale, bias)[0]
        for scale in np.geomspace(10.0, 400.0, 33)
        for bias in np.arange(-40.0, 0.001, 0.25)
    }
    scale, bias = steepest_near_best(scored)
    old = {
        "old_scale": round(float(model.logit_scale.detach().exp()), 3),
        "old_bias": round(float(model.logit_bias.detach()), 3),
    }
    with torch.no_grad():
        model.logit_scale.fill_(math.log(scale))
        model.logit_bias.fill_(bias)
    return {
        **old,
        "scale": round(scale, 3),
        "bias": round(bias, 3),
        **{k: round(v, 3) for k, v in quality(scale, bias)[1].items()},
    }


def train(config: TrainConfig, out_dir: Path, *, log_every: int = 50) -> dict:
    """Train and save model + processor + vocabulary.txt + training.json to `out_dir`."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    started = time.perf_counter()

    with tempfile.TemporaryDirectory() as workdir:
        device = torch.device(config.device)
        if config.init_from:
            # Continue from a saved model (stage 2 of the recipe): its text tower is final.
            from visual_buffet_siglip.demo.evaluate import load_demo_model

            model, processor = load_demo_model(Path(config.init_from))
            tokenizer = processor.tokenizer
            architecture = saved_architecture(model.config)
            if config.image_size != architecture["image_size"]:
                model = resized(model, config.image_size)
                processor = build_processor(config, tokenizer)
                architecture["image_size"] = config.image_size
            config = replace(config, **architecture)
        else:
            tokenizer = build_siglip_tokenizer(Path(workdir))
            processor = build_processor(config, tokenizer)
            model = build_model(
                config, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id
            )
        if config.pad_to_square:
            # Saved with the processor: the plugin letterboxes this model's views the same way.
            pad_mode({PAD_TO_SQUARE_KEY: config.pad_to_square}, "--pad-to-square")
            setattr(processor.image_processor, PAD_TO_SQUARE_KEY, config.pad_to_square)
        model.to(device).train()
        # Tags first, then the distractors: every one is scored on every training image.
        input_ids = prompt_input_ids(tokenizer, (*DEMO_TAGS, *DISTRACTOR_WORDS)).to(device)
        if not config.init_from:
            spread = spread_prompts(model, input_ids, config.text_steps, config.text_learning_rate)
            print(json.dumps({"text_steps": config.text_steps, "mean_squared_cosine": spread}))

        model.text_model.requires_grad_(False)
        with torch.no_grad():
            text = F.normalize(model.get_text_features(input_ids=input_ids).pooler_output, dim=-1)
        width = config.hidden_size
        # The shipped model was trained with a second, unused head (patch labels at weight 0,
        # since removed: no measurable gain) created here. Drawing its initial weights keeps
        # the random stream, and so the shipped weights, reproducible with this script.
        torch.nn.Linear(width, 2 + len(SHAPES) + len(COLOURS))
        tag_head = torch.nn.Linear(width, len(DEMO_TAGS)).to(device)
        optimizer = torch.optim.AdamW(_parameter_groups([model, tag_head], config))
        warmup = max(1, int(config.warmup_fraction * config.steps))

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, config.steps - warmup)
            return 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        if config.distinct_batches:
            loader = ReplayBatches(config, processor.image_processor)
            seconds = round(time.perf_counter() - started, 1)
            drawn = {"drawn": config.distinct_batches, "seconds": seconds}
            print(json.dumps(drawn), flush=True)
        else:
            loader = _step_loader(StepBatches(config, processor.image_processor), config.workers)
        shape_columns = [DEMO_TAGS.index(shape) for shape in SHAPES]
        history: list[dict] = []
        sums = {"loss": 0.0, "siglip": 0.0, "tags": 0.0, "shape": 0.0}
        for step, (pixels, targets, weights) in enumerate(loader):
            pixels, targets, weights = pixels.to(device), targets.to(device), weights.to(device)
            vision = model.get_image_features(pixel_values=pixels)
            image = F.normalize(vision.pooler_output, dim=-1)
            logits = image @ text.T * model.logit_scale.exp() + model.logit_bias
            tag_logits = tag_head(vision.pooler_output)
            tags = F.binary_cross_entropy_with_logits(
                tag_logits, targets, weight=weights, reduction="sum"
            ) / len(pixels)
            shape = shape_loss(tag_logits, targets, weights, shape_columns)
            targets = F.pad(targets, (0, len(DISTRACTOR_WORDS)))  # distractors: negatives
            weights = F.pad(weights, (0, len(DISTRACTOR_WORDS)), value=1.0)
            siglip = F.binary_cross_entropy_with_logits(
                logits, targets, weight=weights, reduction="sum"
            )
            siglip = siglip / len(pixels)
            shape_only = config.shape_first and is_easy(config, step)
            if shape_only:
                loss = shape  # the single-object phase learns the six-way shape choice alone
            else:
                loss = siglip + config.tag_head_weight * tags + config.shape_loss_weight * shape
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(
                [*model.parameters(), *tag_head.parameters()], max_norm=1.0
            )
            optimizer.step()
            scheduler.step()

            for name, value in zip(sums, (loss, siglip, tags, shape), strict=True):
                sums[name] += value.item()
            done = step + 1
            if done % log_every == 0 or done == config.steps:
                count = (step % log_every) + 1
                entry = {
                    "step": done,
                    **{name: round(total / count, 4) for name, total in sums.items()},
                    "lr": round(scheduler.get_last_lr()[0], 6),
                    "logit_scale": round(model.logit_scale.exp().item(), 3),
                    "logit_bias": round(model.logit_bias.item(), 3),
                    "seconds": round(time.perf_counter() - started, 1),
                }
                # Validation scores through the text tower, which the shape-first phase
                # does not train yet: it would read chance.
                if (
                    config.validate_every
                    and not shape_only
                    and (done % config.validate_every == 0 or done == config.steps)
                ):
                    entry["validation"] = _validate(model, processor)
                history.append(entry)
                sums = dict.fromkeys(sums, 0.0)
                print(json.dumps(entry), flush=True)

        seconds = time.perf_counter() - started
        model.cpu().eval()
        everyday = config.everyday_fraction > 0
        calibration = calibrate(model, processor, everyday=everyday) if config.calibrate else None
        print(json.dumps({"calibration": calibration}))
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir, safe_serialization=True)
        processor.save_pretrained(out_dir)
    (out_dir / DEMO_VOCABULARY_FILE).write_text("\n".join(DEMO_TAGS) + "\n", encoding="utf-8")
    summary = {
        "config": asdict(config),
        "train_seconds": round(seconds, 1),
        "images_seen": config.steps * config.batch_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "final": history[-1] if history else None,
        "calibration": calibration,
    }
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def recalibrate(model_dir: Path) -> dict:
    """Run ``calibrate`` on a saved model and save it back (training.json notes it)."""
    from visual_buffet_siglip.demo.evaluate import load_demo_model

    model, processor = load_demo_model(model_dir)
    record = model_dir / "training.json"
    summary = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
    # Calibrated on the palettes it was trained on.
    everyday = summary.get("config", {}).get("everyday_fraction", 0) > 0
    calibration = calibrate(model, processor, everyday=everyday)
    model.save_pretrained(model_dir, safe_serialization=True)
    summary["calibration"] = calibration
    record.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return calibration


def main(argv: list[str] | None = None) -> None:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description="Train the Visual Buffet demo model (CPU).")
    parser.add_argument("--out", type=Path, required=True, help="directory to write")
    parser.add_argument(
        "--calibrate-only",
        action="store_true",
        help="only re-run the bias calibration on the model already in --out",
    )
    for name, value in asdict(defaults).items():
        flag = f"--{name.replace('_', '-')}"
        kind = (
            {"action": argparse.BooleanOptionalAction}
            if isinstance(value, bool)
            else {"type": type(value)}
        )
        parser.add_argument(flag, default=value, help="default: %(default)s", **kind)
    args = parser.parse_args(argv)
    quiet_transformers()
    if args.calibrate_only:
        print(json.dumps(recalibrate(args.out), indent=2))
        return
    config = TrainConfig(**{name: getattr(args, name) for name in asdict(defaults)})
    summary = train(config, args.out)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
