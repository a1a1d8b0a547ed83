"""Train the demo model: a tiny SigLIP that tags coloured shapes, on the CPU, in minutes.

    python -m visual_buffet_siglip.demo.train --out src/visual_buffet_siglip/demo/model

Every step draws a fresh batch of procedural images (``demo.shapes``) from its own seeds
(``numpy.random.default_rng([TRAIN_STREAM, step, index])``; evaluation uses other streams), so
the model never sees an evaluation image. The loss is SigLIP's: for each image and each tag,
binary cross-entropy on ``exp(logit_scale) * cos(image, text) + logit_bias`` with the prompt
``"this is a photo of {tag}."`` tokenized exactly as at inference (lower case,
``padding="max_length"``, 64 tokens, ``input_ids`` only). A few words that are not tags
(``DISTRACTOR_WORDS``) are scored too, always as negatives, so that labels outside the demo
vocabulary stay below the threshold.

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
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from visual_buffet_siglip.demo.evaluate import VOCABULARY_FILE, prompt_input_ids
from visual_buffet_siglip.demo.shapes import DEMO_TAGS, random_image_size, render_scene, tags_for
from visual_buffet_siglip.synthetic import VOCABULARY_WORDS, build_siglip_tokenizer

TRAIN_STREAM = 0
"""First element of every training seed; evaluation streams start at 1."""

# Nouns with nothing to do with colours or shapes: the text tower learns that they never match.
DISTRACTOR_WORDS: tuple[str, ...] = tuple(
    word
    for word in VOCABULARY_WORDS[VOCABULARY_WORDS.index("cat") : VOCABULARY_WORDS.index("big")]
    if word not in DEMO_TAGS
)


@dataclass(frozen=True)
class TrainConfig:
    """Architecture and recipe. The defaults produced the shipped model."""

    image_size: int = 64
    patch_size: int = 8
    hidden_size: int = 128
    vision_layers: int = 4
    text_layers: int = 2
    heads: int = 4
    mlp_ratio: int = 4
    steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 1.5e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    positive_weight: float = 1.0
    scalar_lr_multiplier: float = 20.0
    text_steps: int = 60
    text_learning_rate: float = 1e-3
    seed: int = 0
    threads: int = 2
    workers: int = 0


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


def training_scene(rng: np.random.Generator, image_size: int):
    """One training image: 1-3 tagged objects, sometimes untagged specks, any background."""
    size = random_image_size(rng, (2 * image_size, 4 * image_size))
    n_objects = int(rng.choice([1, 2, 3], p=[0.55, 0.25, 0.20]))
    specks = int(rng.choice([0, 1, 2, 3], p=[0.5, 0.25, 0.15, 0.10]))
    max_rel = 0.70 if n_objects == 1 else 0.45
    return render_scene(rng, size, n_objects, 0.08, max_rel, specks=specks)


class StepBatches(torch.utils.data.Dataset):
    """Batch `step` of the training run: images, preprocessed, and their multi-hot targets."""

    def __init__(self, config: TrainConfig, image_processor) -> None:
        self.config = config
        self.image_processor = image_processor

    def __len__(self) -> int:
        return self.config.steps

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, targets = [], torch.zeros(self.config.batch_size, len(DEMO_TAGS))
        for index in range(self.config.batch_size):
            rng = np.random.default_rng([TRAIN_STREAM, self.config.seed, step, index])
            image, specs = training_scene(rng, self.config.image_size)
            images.append(image)
            for tag in tags_for(specs):
                targets[index, DEMO_TAGS.index(tag)] = 1.0
        pixels = self.image_processor(images=images, return_tensors="pt")["pixel_values"]
        return pixels, targets


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def _parameter_groups(model, config: TrainConfig) -> list[dict]:
    decay, no_decay, scalars = [], [], []
    for name, parameter in model.named_parameters():
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


def spread_prompts(model, input_ids: torch.Tensor, steps: int, learning_rate: float) -> float:
    """Stage 1: train the text tower alone until the prompts' embeddings point apart.

    A fresh text tower embeds every "this is a photo of X." almost identically (the pooled
    token is the last padding token). Trained jointly from there, the shape prompts never
    separate: the image tower learns colour first, and with identical shape targets it gets
    no gradient towards shape. Pushing all prompts apart first breaks that symmetry.
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
    return float(loss)


def train(config: TrainConfig, out_dir: Path, *, log_every: int = 50) -> dict:
    """Train and save model + processor + vocabulary.txt + training.json to `out_dir`."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    started = time.perf_counter()

    with tempfile.TemporaryDirectory() as workdir:
        tokenizer = build_siglip_tokenizer(Path(workdir))
        processor = build_processor(config, tokenizer)
        model = build_model(config, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id)
        model.train()
        # Tags first, then the distractors: every one is scored on every training image.
        input_ids = prompt_input_ids(tokenizer, (*DEMO_TAGS, *DISTRACTOR_WORDS))
        spread = spread_prompts(model, input_ids, config.text_steps, config.text_learning_rate)
        print(json.dumps({"text_steps": config.text_steps, "mean_squared_cosine": spread}))

        # Stage 2: the image tower (and temperature/bias) against the frozen text tower.
        model.text_model.requires_grad_(False)
        with torch.no_grad():
            text = F.normalize(model.get_text_features(input_ids=input_ids).pooler_output, dim=-1)
        optimizer = torch.optim.AdamW(_parameter_groups(model, config), betas=(0.9, 0.95))
        warmup = max(1, int(config.warmup_fraction * config.steps))

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, config.steps - warmup)
            return 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        loader = torch.utils.data.DataLoader(
            StepBatches(config, processor.image_processor),
            batch_size=None,
            shuffle=False,
            num_workers=config.workers,
            worker_init_fn=_worker_init if config.workers else None,
            prefetch_factor=2 if config.workers else None,
        )
        history = []
        running = 0.0
        for step, (pixels, targets) in enumerate(loader):
            # Distractor columns are all-zero targets.
            targets = F.pad(targets, (0, len(DISTRACTOR_WORDS)))
            image = F.normalize(model.get_image_features(pixel_values=pixels).pooler_output, dim=-1)
            logits = image @ text.T * model.logit_scale.exp() + model.logit_bias
            weights = torch.where(targets > 0, config.positive_weight, 1.0)
            loss = F.binary_cross_entropy_with_logits(
                logits, targets, weight=weights, reduction="sum"
            ) / len(pixels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()

            running += loss.item()
            if (step + 1) % log_every == 0 or step + 1 == config.steps:
                count = (step % log_every) + 1
                entry = {
                    "step": step + 1,
                    "loss": round(running / count, 4),
                    "lr": scheduler.get_last_lr()[0],
                    "logit_scale": round(model.logit_scale.exp().item(), 3),
                    "logit_bias": round(model.logit_bias.item(), 3),
                    "seconds": round(time.perf_counter() - started, 1),
                }
                history.append(entry)
                running = 0.0
                print(json.dumps(entry), flush=True)

        seconds = time.perf_counter() - started
        model.eval()
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir, safe_serialization=True)
        processor.save_pretrained(out_dir)
    (out_dir / VOCABULARY_FILE).write_text("\n".join(DEMO_TAGS) + "\n", encoding="utf-8")
    summary = {
        "config": asdict(config),
        "train_seconds": round(seconds, 1),
        "images_seen": config.steps * config.batch_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "final_loss": history[-1]["loss"] if history else None,
    }
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> None:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description="Train the Visual Buffet demo model (CPU).")
    parser.add_argument("--out", type=Path, required=True, help="directory to write")
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    config = TrainConfig(**{name: getattr(args, name) for name in asdict(defaults)})
    summary = train(config, args.out)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
