"""The session-load benchmark (bench/session_load.py) opens every stored form of an export and
each form computes the export's features (its figures go to docs/performance.md, run 16)."""

from __future__ import annotations

from tests.siglip.test_onnx_export import keys, onnx_model
from visual_buffet import paths
from visual_buffet_siglip.bench.session_load import FORMS, measure, table
from visual_buffet_siglip.onnx_cache import OnnxExportCache


def test_every_form_opens_and_computes_the_exports_features(checkpoints, tmp_path):
    model = onnx_model(checkpoints["v1"])
    key, _ = keys(model, checkpoints["v1"])
    export = OnnxExportCache(paths.cache_dir("siglip", "onnx")).load(key)
    assert export is not None
    rows = measure(export.path, tmp_path / "forms", FORMS, repeats=1, threads=1)
    assert set(rows) == set(FORMS)
    for form, (run,) in rows.items():
        assert "error" not in run, (form, run)
        assert run["diff"] <= 2e-6, form  # bit-identical but for the unpacked kernels
        assert run["peak"] > 0 and run["anon"] > 0
    assert rows["exported"][0]["diff"] == 0.0
    assert (tmp_path / "forms" / "optimised" / "model.data").stat().st_size > 0
    assert table(rows).count("\n") == len(FORMS) + 1
