"""Scores equal the model's own joint forward; labels are normalised as SigLIP was trained."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.siglip.conftest import KINDS, make_plugin, tag_file, write_vocab
from visual_buffet_siglip.vocabulary import normalise_label, prepare_labels

LABELS = ["cat", "dog", "red car", "ceiling fan", "mountain lake", "a bowl of soup"]
RUNTIMES = ("torch", "onnx")
"""Both runtimes pass the same parity tests (on a CPU ``auto`` is ``onnx``)."""


def joint_forward_probabilities(model_dir: Path, image_path: Path, labels: list[str]):
    """The reference: `model(**processor(text, images, padding="max_length", max_length=64))`."""
    from transformers import AutoConfig, AutoProcessor, Siglip2Model, SiglipModel

    naflex = AutoConfig.from_pretrained(model_dir).model_type == "siglip2"
    model = (Siglip2Model if naflex else SiglipModel).from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    extra = {"max_num_patches": 256} if naflex else {}
    inputs = processor(
        text=[f"This is a photo of {label}." for label in labels],
        images=[Image.open(image_path).convert("RGB")],
        padding="max_length",
        max_length=64,
        return_tensors="pt",
        **extra,
    )
    with torch.inference_mode():
        return torch.sigmoid(model(**inputs).logits_per_image[0])


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("kind", KINDS)
def test_scores_match_joint_forward(kind, runtime, checkpoints, photo, tmp_path):
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    plugin = make_plugin(
        checkpoints[kind],
        quality="quick",
        threshold=0.0,
        max_tags=0,
        custom_vocabulary=vocab,
        runtime=runtime,
    )
    result = tag_file(plugin, photo)
    assert result.model["runtime"] == runtime
    ours = {tag.label: tag.confidence for tag in result.tags}
    reference = joint_forward_probabilities(checkpoints[kind], photo, LABELS)
    assert set(ours) == set(LABELS)
    for label, expected in zip(LABELS, reference.tolist(), strict=True):
        assert ours[label] == pytest.approx(expected, abs=1e-5), label
    # The comparison is only meaningful if the scores are spread out.
    assert max(reference) - min(reference) > 100 * 1e-5


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("kind", KINDS)
def test_mixed_case_and_underscores_score_as_normalised(
    kind, runtime, checkpoints, photo, tmp_path
):
    raw = ["A Cat", "ceiling_fan", "  Red   CAR ", "Mountain_Lake"]
    clean = ["a cat", "ceiling fan", "red car", "mountain lake"]
    run = {}
    for name, labels in (("raw", raw), ("clean", clean)):
        vocab = write_vocab(tmp_path / f"{name}.txt", labels)
        plugin = make_plugin(
            checkpoints[kind],
            quality="quick",
            threshold=0.0,
            max_tags=0,
            custom_vocabulary=vocab,
            runtime=runtime,
        )
        run[name] = {t.label: t.confidence for t in tag_file(plugin, photo).tags}
    assert run["raw"] == run["clean"]
    assert set(run["raw"]) == set(clean)  # tags are reported with the normalised label


def test_gemma_tokenizer_is_case_sensitive_so_lowercasing_matters(checkpoints):
    """The trap the normalisation avoids: SigLIP 2's tokenizer gives other ids for capitals."""
    from transformers import AutoProcessor

    tokenizer = AutoProcessor.from_pretrained(checkpoints["v2"]).tokenizer
    upper = tokenizer("This is a photo of A Cat.")["input_ids"]
    lower = tokenizer("This is a photo of a cat.")["input_ids"]
    assert upper != lower


def test_text_inputs_are_padded_to_64_and_input_ids_only(checkpoints):
    from transformers import AutoProcessor

    from visual_buffet_siglip import text_cache

    tokenizer = AutoProcessor.from_pretrained(checkpoints["v1"]).tokenizer
    seen = {}

    class Spy:
        def get_text_features(self, **inputs):
            seen.update(inputs)

            class Out:
                pooler_output = torch.ones(inputs["input_ids"].shape[0], 4)

            return Out()

    text_cache.encode_texts(Spy(), tokenizer, ["This is a photo of a cat."], "cpu")
    assert list(seen) == ["input_ids"]
    assert seen["input_ids"].shape == (1, 64)


def test_label_normalisation_rules():
    assert normalise_label("  Ceiling_Fan ") == "ceiling fan"
    assert normalise_label("New   York\tCity") == "new york city"
    assert prepare_labels(["Cat", "cat", "", "  ", "dog", "CAT", "hot_dog"]) == [
        "cat",
        "dog",
        "hot dog",
    ]


def test_threshold_sort_and_limit(checkpoints, photo, tmp_path):
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    everything = tag_file(
        make_plugin(
            checkpoints["v1"], quality="quick", threshold=0.0, max_tags=0, custom_vocabulary=vocab
        ),
        photo,
    ).tags
    confidences = [t.confidence for t in everything]
    assert confidences == sorted(confidences, reverse=True)
    cut = sorted(confidences)[len(confidences) // 2]
    above = tag_file(
        make_plugin(
            checkpoints["v1"], quality="quick", threshold=cut, max_tags=0, custom_vocabulary=vocab
        ),
        photo,
    ).tags
    assert [t.label for t in above] == [t.label for t in everything if t.confidence >= cut]
    top2 = tag_file(
        make_plugin(
            checkpoints["v1"], quality="quick", threshold=0.0, max_tags=2, custom_vocabulary=vocab
        ),
        photo,
    ).tags
    assert [t.label for t in top2] == [t.label for t in everything[:2]]


def test_max_candidates_takes_the_first_labels(checkpoints, photo, tmp_path):
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    plugin = make_plugin(
        checkpoints["v1"],
        quality="quick",
        threshold=0.0,
        max_tags=0,
        custom_vocabulary=vocab,
        max_candidates=3,
    )
    assert {t.label for t in tag_file(plugin, photo).tags} == set(LABELS[:3])


def test_result_metadata(checkpoints, photo, tmp_path):
    vocab = write_vocab(tmp_path / "tags.txt", LABELS)
    result = tag_file(
        make_plugin(checkpoints["naflex"], quality="quick", custom_vocabulary=vocab), photo
    )
    for key in (
        "id",
        "revision",
        "device",
        "dtype",
        "attention",
        "quantization",
        "vocabulary_size",
        "load_ms",
        "text_ms",
        "max_num_patches",
    ):
        assert key in result.model, key
    assert result.model["device"] == "cpu" and result.model["dtype"] == "float32"
    assert result.model["vocabulary_size"] == len(LABELS)
    assert result.timings["model_ms"] > 0
