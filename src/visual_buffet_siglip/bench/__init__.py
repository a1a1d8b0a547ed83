"""Benchmark: how fast `visual-buffet tag` runs on this machine, next to what the machine allows.

Runnable by anyone, offline: ``python -m visual_buffet_siglip.bench [--out DIR]``. It builds
random-weight checkpoints with the released dimensions (``synthetic.build_checkpoint``: SigLIP
base-patch16-224, so400m-patch14-384), writes realistic photo JPEGs (24 MP and 12 MP, as a
camera writes them, with an embedded preview, and as an editor exports them, without), and
prints one Markdown table; every figure is measured in the same run. ``--quick-run`` does the
same with the tiny checkpoint and a few images (a CI smoke test, under a minute).

How each figure is measured (docs/performance.md has the rows and their targets):

- CLI figures run ``python -m visual_buffet tag FILES --plugin siglip --set model=CKPT
  --vocabulary LABELS --quality Q --format jsonl`` in a subprocess, with
  ``VISUAL_BUFFET_CACHE_DIR`` / ``VISUAL_BUFFET_CONFIG`` in the work folder. Time per image
  is a difference of wall times, so start-up (imports, model load, text embeddings), the
  first photo's one-off costs and interpreter shutdown cancel out: throughput (1) =
  ``(wall(N photos) - wall(1 photo)) / (N - 1)``. Timing inside one run instead (records
  arrive as images finish) would flatter it: the decode threads work ahead while the first
  batch runs, so later batches find their photos decoded. Quality levels: quick as above;
  start-up = ``wall(1 photo) - quick's time per photo``; other levels
  ``(wall(n photos) - start-up) / n``. Peak RSS of a run comes from ``os.wait4`` on that
  one child.
- The vision-tower ceiling times ``model.get_image_features(pixel_values=...)`` under
  ``torch.inference_mode`` on tensors the plugin prepared beforehand from the same photos, at
  the batch size the CLI resolved, after one warm-up batch; same process settings (threads,
  dtype, attention) as the CLI, because the model comes from the plugin's own loader.
- The transformers pipeline runs in a child process: one warm-up call with 2 labels, then one
  timed call with the same 24 MP photo, all labels and SigLIP's template.
- Cold vs warm start: wall time of the whole command tagging one photo, first with an empty
  text-embedding cache, then with the cache the first run wrote.

Modules: ``inputs`` (photos, labels, checkpoints), ``runs`` (the CLI in a subprocess),
``measure`` (vision tower, pipeline, medians), ``machine`` (CPU, versions, load),
``suite`` (the target rows of the first size), ``quality_rows`` (seconds per photo of each
quality level), ``size_rows`` (the other sizes), ``runtime_rows`` (PyTorch against ONNX
Runtime), ``library_rows`` (rerun, retag, search), ``xmp_rows`` (sidecars), ``report`` (the
Markdown table), ``cli`` (the order of it all).
"""
