"""Build randomly initialised SigLIP checkpoints offline, for tests and the benchmark.

Each checkpoint is a directory written with ``save_pretrained`` (model weights as safetensors,
image processor and tokenizer) that ``AutoProcessor`` / ``AutoModel.from_pretrained`` load
without a network, resolving to the same classes as the released checkpoints:

============  ================================================  ==============
kind          processor + tokenizer                             model
============  ================================================  ==============
``v1``        ``SiglipProcessor`` + ``SiglipTokenizer``         ``SiglipModel``
``v2``        ``SiglipProcessor`` + ``GemmaTokenizer``          ``SiglipModel``
``naflex``    ``Siglip2Processor`` + ``Siglip2Tokenizer``       ``Siglip2Model``
============  ================================================  ==============

The tokenizers are trained here, in-process, on template sentences ("this is a photo of
{label}.") over a small word list, so they reproduce the released ones' behaviour (special
token ids, ``input_ids`` only, padding side, EOS) without their 32k/256k vocabularies.
Builds are deterministic for a seed: the same seed gives byte-identical weight files.

Run as a script to build one: ``python -m visual_buffet_siglip.synthetic OUT_DIR --kind v1``.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from transformers import PreTrainedModel, ProcessorMixin

CheckpointKind = Literal["v1", "v2", "naflex"]
CheckpointSize = Literal["tiny", "small", "base", "so400m"]

TEMPLATE = "This is a photo of {label}."
"""The prompt template the released SigLIP models were trained with."""

MAX_TEXT_LENGTH = 64
"""Context length of the text tower; prompts are padded to it (``padding="max_length"``)."""

# Words the trained tokenizers see. Varied on purpose (common nouns, colours, shapes, animals,
# scenes, adjectives) so that most labels a test uses split into a few pieces, not bytes.
_WORDS_TEXT = """
    red green blue yellow orange purple black white pink brown grey gray beige gold silver
    cyan magenta violet turquoise navy maroon teal
    circle square triangle star rectangle ellipse oval hexagon diamond heart cross line
    dot stripe spiral cube sphere cone cylinder pyramid shape
    cat dog bird fish horse cow sheep pig goat chicken duck rabbit mouse lion tiger bear
    wolf fox deer elephant giraffe zebra monkey snake frog turtle butterfly bee spider owl
    eagle whale dolphin shark penguin squirrel
    car bus truck bicycle motorcycle train boat ship airplane plane road bridge street
    tree flower grass leaf forest garden mountain river lake sea ocean beach sky cloud sun
    moon rain snow desert field hill island waterfall sunset sunrise night city town
    house building tower church castle window door roof wall kitchen bedroom bathroom room
    table chair sofa bed lamp clock book phone computer laptop keyboard screen television
    cup mug bottle glass plate bowl knife fork spoon food bread cake pizza apple banana
    fruit vegetable salad coffee tea wine water ice fire smoke
    person people man woman child baby boy girl family friend crowd face hand eye hair
    portrait selfie wedding party concert sport football soccer tennis ball game
    camera painting drawing art sculpture statue museum map sign text logo poster
    shirt dress hat shoe bag umbrella glasses jacket
    big small large tiny old new bright dark light shiny wooden metal plastic stone paper
    round flat tall short happy sad beautiful empty full open closed wet dry hot cold
    indoor outdoor landscape closeup macro aerial panorama blurry sharp abstract pattern
    texture background object animal vehicle plant nature urban rural winter summer
    autumn spring morning evening photo picture image ceiling fan floor carpet
"""
VOCABULARY_WORDS: tuple[str, ...] = tuple(_WORDS_TEXT.split())

SIGLIP_INIT_LOGIT_SCALE = math.log(10.0)
SIGLIP_INIT_LOGIT_BIAS = -10.0
"""The SigLIP paper's initial temperature (t' = log 10) and bias (b = -10)."""

_SPECIAL_BYTE_TOKENS = tuple(f"<0x{i:02X}>" for i in range(256))


@dataclass(frozen=True)
class _Dims:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    image_size: int
    patch_size: int
    text_vocab_size: int | None  # None: the trained tokenizer's own size
    naflex_side: int  # NaFlex (always patch 16): sqrt(num_patches) * 16


# Released dims: google/siglip-base-patch16-224 and google/siglip-so400m-patch14-384; the NaFlex
# releases (siglip2-*-patch16-naflex) use patch 16 and 256 patches.
_SIZES: dict[str, _Dims] = {
    "tiny": _Dims(32, 64, 2, 2, 32, 16, None, 32),
    # Still tiny, but every Linear is at least 64 wide: bitsandbytes' 4-bit CPU kernels
    # quantize in blocks of 64 input features and fail on narrower layers.
    "small": _Dims(64, 128, 2, 2, 32, 16, None, 32),
    "base": _Dims(768, 3072, 12, 12, 224, 16, 32000, 256),
    "so400m": _Dims(1152, 4304, 27, 16, 384, 14, 32000, 256),
}
NAFLEX_PATCH_SIZE = 16


def template_sentences(words: tuple[str, ...] = VOCABULARY_WORDS) -> list[str]:
    """Lower-case training sentences for the tokenizers: one or two words per prompt."""
    sentences = [TEMPLATE.format(label=word).lower() for word in words]
    # Pairs (adjective-like first word + noun) so merges across common bigrams are learned too.
    sentences += [
        TEMPLATE.format(label=f"a {words[i]} {words[(i * 7 + 3) % len(words)]}").lower()
        for i in range(len(words))
    ]
    return sentences


@functools.cache
def sentencepiece_model_bytes(words: tuple[str, ...] = VOCABULARY_WORDS) -> bytes:
    """Train a SentencePiece unigram model (SigLIP v1 style: pad 0, eos 1, unk 2, no bos)."""
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(template_sentences(words)),
        model_writer=buffer,
        vocab_size=2000,
        hard_vocab_limit=False,  # the corpus is small: take what it supports
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        # The SiglipTokenizer canonicalises text itself; identity keeps the file a few KB
        # instead of carrying the ~230 KB NFKC table.
        normalization_rule_name="identity",
        num_threads=1,
        minloglevel=2,
    )
    return buffer.getvalue()


@functools.cache
def bpe_vocab_and_merges(
    words: tuple[str, ...] = VOCABULARY_WORDS,
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Train a byte-fallback BPE (Gemma style: pad 0, eos 1, bos 2, unk 3, mask 4, bytes)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tokenizer.normalizer = normalizers.Replace(" ", "▁")
    tokenizer.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    trainer = trainers.BpeTrainer(
        vocab_size=2000,
        special_tokens=["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", *_SPECIAL_BYTE_TOKENS],
        min_frequency=1,
        show_progress=False,
    )
    tokenizer.train_from_iterator(template_sentences(words), trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    return dict(model["vocab"]), [tuple(merge) for merge in model["merges"]]


def build_siglip_tokenizer(workdir: Path, words: tuple[str, ...] = VOCABULARY_WORDS):
    """A ``SiglipTokenizer`` over a freshly trained SentencePiece model (written to workdir)."""
    from transformers import SiglipTokenizer

    workdir.mkdir(parents=True, exist_ok=True)
    spm_path = workdir / "spiece.model"
    spm_path.write_bytes(sentencepiece_model_bytes(words))
    return SiglipTokenizer(
        vocab_file=str(spm_path),
        model_max_length=MAX_TEXT_LENGTH,
        model_input_names=["input_ids"],
    )


def build_gemma_tokenizer(words: tuple[str, ...] = VOCABULARY_WORDS):
    """A ``GemmaTokenizer`` configured like the SigLIP 2 release (no BOS, EOS, right padding)."""
    from transformers import GemmaTokenizer

    vocab, merges = bpe_vocab_and_merges(words)
    return GemmaTokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        add_bos_token=False,
        add_eos_token=True,
        padding_side="right",
        model_max_length=MAX_TEXT_LENGTH,
        model_input_names=["input_ids"],
    )


def _model_and_processor(
    kind: CheckpointKind, dims: _Dims, tokenizer_dir: Path
) -> tuple[PreTrainedModel, ProcessorMixin]:
    from transformers import (
        Siglip2Config,
        Siglip2ImageProcessor,
        Siglip2Model,
        Siglip2Processor,
        SiglipConfig,
        SiglipImageProcessor,
        SiglipModel,
        SiglipProcessor,
    )

    tokenizer = build_siglip_tokenizer(tokenizer_dir) if kind == "v1" else build_gemma_tokenizer()
    tower = {
        "hidden_size": dims.hidden,
        "intermediate_size": dims.intermediate,
        "num_hidden_layers": dims.layers,
        "num_attention_heads": dims.heads,
    }
    text_config = {
        **tower,
        "vocab_size": dims.text_vocab_size or len(tokenizer),
        "max_position_embeddings": MAX_TEXT_LENGTH,
        # The tokenizer's own ids (v1: pad = eos = 1, no bos; Gemma: pad 0, eos 1, bos 2), not
        # the CLIP ids (49406/49407) the config classes default to.
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    image_kwargs = {
        "do_resize": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
    }
    if kind == "naflex":
        grid = dims.image_size // dims.patch_size
        config = Siglip2Config(
            text_config=text_config,
            vision_config={**tower, "patch_size": dims.patch_size, "num_patches": grid * grid},
        )
        model = Siglip2Model(config)
        # As released: bilinear, patches resized to fit max_num_patches.
        image_processor = Siglip2ImageProcessor(
            **image_kwargs,
            resample=2,
            patch_size=dims.patch_size,
            max_num_patches=grid * grid,
        )
        return model, Siglip2Processor(image_processor=image_processor, tokenizer=tokenizer)
    config = SiglipConfig(
        text_config=text_config,
        vision_config={**tower, "image_size": dims.image_size, "patch_size": dims.patch_size},
    )
    model = SiglipModel(config)
    image_processor = SiglipImageProcessor(
        **image_kwargs,
        resample=3,  # bicubic
        size={"height": dims.image_size, "width": dims.image_size},
    )
    return model, SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer)


def build_checkpoint(
    out_dir: Path,
    kind: CheckpointKind = "v1",
    size: CheckpointSize = "tiny",
    *,
    seed: int = 0,
    image_size: int | None = None,
    logit_scale: float = SIGLIP_INIT_LOGIT_SCALE,
    logit_bias: float = SIGLIP_INIT_LOGIT_BIAS,
) -> Path:
    """Write a randomly initialised SigLIP checkpoint (model + processor) to ``out_dir``.

    Args:
        out_dir: directory to write; created if missing. Existing files are overwritten.
        kind: ``"v1"`` (SigLIP, SentencePiece), ``"v2"`` (SigLIP 2 FixRes: ``SiglipModel`` with
            a Gemma tokenizer) or ``"naflex"`` (``Siglip2Model``, variable resolution).
        size: ``"tiny"`` for unit tests (hidden 32, 2 layers, 32 px, < 1 MB), ``"base"`` and
            ``"so400m"`` with the released dimensions, for benchmarks (NaFlex: patch 16 and
            256 patches, as released).
        seed: seeds the weight initialisation; the caller's global torch RNG is left untouched.
        image_size: override the input resolution (FixRes) or the patch budget's square side
            (NaFlex: ``num_patches = max_num_patches = (image_size // 16) ** 2``).
        logit_scale: the stored log-temperature; scores are
            ``sigmoid(exp(logit_scale) * cos + logit_bias)``. Defaults to the SigLIP paper's
            initialisation, log(10) and -10 (transformers 5 initialises both to 0, which
            scores every label near 0.5).
        logit_bias: the stored bias, see ``logit_scale``.

    Returns:
        ``out_dir``.
    """
    import torch

    if kind not in get_args(CheckpointKind):
        raise ValueError(f"unknown checkpoint kind {kind!r}: use one of {get_args(CheckpointKind)}")
    if size not in _SIZES:
        raise ValueError(f"unknown checkpoint size {size!r}: use one of {tuple(_SIZES)}")
    dims = _SIZES[size]
    if kind == "naflex":
        dims = replace(dims, image_size=dims.naflex_side, patch_size=NAFLEX_PATCH_SIZE)
    if image_size is not None:
        if image_size < dims.patch_size:
            raise ValueError(f"image_size {image_size} is smaller than the patch {dims.patch_size}")
        dims = replace(dims, image_size=image_size)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, processor = _model_and_processor(kind, dims, out_dir)
    with torch.no_grad():
        model.logit_scale.fill_(logit_scale)
        model.logit_bias.fill_(logit_bias)
    model.eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    processor.save_pretrained(out_dir)
    return out_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--kind", choices=get_args(CheckpointKind), default="v1")
    parser.add_argument("--size", choices=get_args(CheckpointSize), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=None)
    args = parser.parse_args(argv)
    path = build_checkpoint(
        args.out_dir, args.kind, args.size, seed=args.seed, image_size=args.image_size
    )
    print(path)


if __name__ == "__main__":
    main()
