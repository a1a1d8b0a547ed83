"""How fast and how lean onnxruntime opens one vision export, in each form it can be stored.

The measurement behind the optimised form of :mod:`visual_buffet_siglip.onnx_session`
(docs/performance.md, run 16). Given an export's ``model.onnx`` (from the ONNX cache:
``siglip/onnx/<entry>/model.onnx``), it writes each candidate form into ``--work``, then opens
each in a fresh child process (``--repeats`` times, interleaved) and reports:

- ``session``: seconds to create the ``InferenceSession``; ``ready``: until both the session
  and the sha256 of its files (hashed in a thread beside it, as the runtime does) are done;
- ``first`` / ``second``: seconds of the first and second run on one random image;
- ``peak``: the child's peak RSS (``VmHWM``), and at exit its private (``RssAnon``) and
  file-backed (``RssFile``: memory-mapped weights, shared page cache) resident memory;
- ``diff``: max |features - the export's features| on that image.

Candidates: ``exported`` (the file as is, optimised at load: what the runtime did before run
16), ``external`` (``onnx.save_model(save_as_external_data=True)``, optimised at load),
``optimised`` (onnxruntime's own ``ORT_ENABLE_ALL`` graph with external initializers, opened
with optimisation off), ``optimised-unpacked`` (the same with ``session.disable_prepacking``),
``optimised-prepacked`` (the same written with
``session.save_external_prepacked_constant_initializers``) and ``ort-format`` (an ORT format
model opened with ``session.use_memory_mapped_ort_model`` and
``session.use_ort_model_bytes_for_initializers``).

``python -m visual_buffet_siglip.bench.session_load MODEL.onnx --work DIR [--repeats 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FORMS = (
    "exported",
    "external",
    "optimised",
    "optimised-unpacked",
    "optimised-prepacked",
    "ort-format",
)
WRITTEN = {  # the form each candidate opens (unpacked opens the optimised files)
    "external": "external",
    "optimised": "optimised",
    "optimised-unpacked": "optimised",
    "optimised-prepacked": "optimised-prepacked",
    "ort-format": "ort-format",
}


def _options(threads: int, optimise: bool, entries: dict[str, str]) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    level = ort.GraphOptimizationLevel
    options.graph_optimization_level = level.ORT_ENABLE_ALL if optimise else level.ORT_DISABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    for key, value in entries.items():
        options.add_session_config_entry(key, value)
    options.log_severity_level = 3
    return options


def write_form(source: Path, folder: Path, form: str, threads: int) -> Path:
    """Write candidate ``form`` of ``source`` into ``folder``; returns the file to open."""
    import shutil

    import onnxruntime as ort

    shutil.rmtree(folder, ignore_errors=True)  # onnx.save_model appends to an old model.data
    folder.mkdir(parents=True)
    if form == "external":
        import onnx

        onnx.save_model(
            onnx.load(str(source)),
            str(folder / "model.onnx"),
            save_as_external_data=True,
            location="model.data",
            size_threshold=1024,
        )
        return folder / "model.onnx"
    if form == "ort-format":
        entries = {"session.save_model_format": "ORT"}
        target = folder / "model.ort"
    else:
        entries = {
            "session.optimized_model_external_initializers_file_name": "model.data",
            "session.optimized_model_external_initializers_min_size_in_bytes": "1024",
        }
        if form == "optimised-prepacked":
            entries["session.save_external_prepacked_constant_initializers"] = "1"
        target = folder / "model.onnx"
    options = _options(threads, True, entries)
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    return target


def _status() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) * 1024 / 1e9
    return fields


def child(path: Path, form: str, threads: int) -> dict[str, Any]:
    """Open ``path`` as ``form`` in this process and time it (see the module docstring)."""
    import threading

    import numpy as np
    import onnxruntime as ort

    from visual_buffet_siglip.onnx_cache import sha256_file

    files = [p for p in path.parent.iterdir() if p.suffix in (".onnx", ".data", ".ort")]
    hashed: list[float] = []
    start = time.perf_counter()
    hasher = threading.Thread(
        target=lambda: ([sha256_file(p) for p in files], hashed.append(time.perf_counter()))
    )
    hasher.start()
    entries: dict[str, str] = {}
    if form == "optimised-unpacked":
        entries["session.disable_prepacking"] = "1"
    if form == "ort-format":
        entries["session.use_memory_mapped_ort_model"] = "1"
        entries["session.use_ort_model_bytes_for_initializers"] = "1"
    options = _options(threads, form in ("exported", "external"), entries)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    opened = time.perf_counter()
    hasher.join()
    ready = max(opened, hashed[0])
    side = session.get_inputs()[0].shape[-1]
    image = np.random.default_rng(0).standard_normal((1, 3, side, side)).astype(np.float32)
    (features,) = session.run(["features"], {"pixel_values": image})
    first = time.perf_counter()
    session.run(["features"], {"pixel_values": image})
    second = time.perf_counter()
    status = _status()
    return {
        "form": form,
        "session": opened - start,
        "ready": ready - start,
        "first": first - ready,
        "second": second - first,
        "peak": status.get("VmHWM"),
        "anon": status.get("RssAnon"),
        "file": status.get("RssFile"),
        "features": features.tolist(),
    }


def measure(
    model: Path, work: Path, forms: Sequence[str], repeats: int = 2, threads: int = 2
) -> dict[str, list[dict[str, Any]]]:
    """Write the ``forms`` of ``model`` into ``work`` and open each ``repeats`` times in a
    child process (interleaved); each run's figures, or ``{"error": ...}``, by form. Each
    figure's ``diff`` is against the first ``exported`` run (None without one)."""
    paths = {"exported": model}
    for form in sorted({WRITTEN[f] for f in forms if f in WRITTEN}):
        begin = time.perf_counter()
        path = write_form(model, work / form, form, threads)
        sizes = {p.name: p.stat().st_size for p in path.parent.iterdir()}
        print(f"{form}: written in {time.perf_counter() - begin:.1f} s, {sizes}", flush=True)
        paths[form] = path
    rows: dict[str, list[dict[str, Any]]] = {f: [] for f in forms}
    for _ in range(repeats):
        for form in forms:
            command = [sys.executable, "-m", __spec__.name, "--threads", str(threads)]
            command += ["--child", str(paths[WRITTEN.get(form, form)]), form]
            done = subprocess.run(command, capture_output=True, text=True)
            lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT=")]
            if not lines:
                rows[form].append({"error": f"exit {done.returncode}: {done.stderr[-300:]}"})
                continue
            rows[form].append(json.loads(lines[0].removeprefix("RESULT=")))
    _add_diffs(rows)
    return rows


def _add_diffs(rows: dict[str, list[dict[str, Any]]]) -> None:
    import numpy as np

    reference = next((r["features"] for r in rows.get("exported", []) if "features" in r), None)
    for runs in rows.values():
        for run in runs:
            if "features" in run:
                features = np.array(run.pop("features"))
                run["diff"] = (
                    None if reference is None else float(np.abs(features - reference).max())
                )


def table(rows: dict[str, list[dict[str, Any]]]) -> str:
    """A Markdown table of :func:`measure`'s figures (every run's times, the first's memory)."""
    lines = [
        "| form | session s | ready (with sha256) s | first image s | peak RSS GB "
        "| private / file-backed GB at exit | max diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for form, runs in rows.items():
        ok = [r for r in runs if "error" not in r]
        if not ok:
            lines.append(f"| {form} | {runs[0]['error']} | | | | | |")
            continue
        first = ok[0]
        diff = "n/a" if first["diff"] is None else f"{first['diff']:.1e}"
        times = {k: ", ".join(f"{r[k]:.2f}" for r in ok) for k in ("session", "ready", "first")}
        lines.append(
            f"| {form} | {times['session']} | {times['ready']} | {times['first']} "
            f"| {first['peak']:.2f} | {first['anon']:.2f} / {first['file']:.2f} | {diff} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the forms (see the module docstring) and print a Markdown table."""
    parser = argparse.ArgumentParser(prog="python -m visual_buffet_siglip.bench.session_load")
    parser.add_argument("model", type=Path, nargs="?", help="an export's model.onnx")
    parser.add_argument("--work", type=Path, help="where the forms are written")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--forms", default=",".join(FORMS))
    parser.add_argument("--child", nargs=2, metavar=("PATH", "FORM"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = child(Path(args.child[0]), args.child[1], args.threads)
        print("RESULT=" + json.dumps(result))
        return 0
    if args.model is None or args.work is None:
        parser.error("give an export's model.onnx and --work")
    before = os.getloadavg()[0]
    rows = measure(args.model, args.work, args.forms.split(","), args.repeats, args.threads)
    print(f"\nload average before {before:.1f}, after {os.getloadavg()[0]:.1f}\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
