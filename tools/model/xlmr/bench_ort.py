#!/usr/bin/env python3
"""Times forward passes of an ONNX encoder with onnxruntime (CPU), by default the random
BGE-M3-shaped model written by export_large.py, to give a feel for BGE-M3's speed on a machine.

    .cache/venv-xlmr/bin/python tools/model/xlmr/bench_ort.py [--threads 2] [--batch 8] [--seq 256] [--runs 3]

Inputs: `batch` rows of `seq` tokens (<s> random ids </s>, no padding). One untimed warm-up run
first (it includes onnxruntime's first-run allocations), then `runs` timed runs; prints
session-creation time, each run's seconds, the median, tokens per second and the peak RSS.
"""
import argparse
import json
import os
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[3]
MODELS_DIR = Path(os.environ.get("POLYMATH_MODELS_DIR", ROOT / ".models"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=MODELS_DIR / "xlmr-large-random" / "model.onnx")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    t0 = time.perf_counter()
    session = ort.InferenceSession(str(args.model), so, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - t0

    rng = np.random.default_rng(0)
    ids = rng.integers(5, 8001, size=(args.batch, args.seq), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 0, 2
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    names = {i.name for i in session.get_inputs()}
    feeds = {k: v for k, v in feeds.items() if k in names}

    t0 = time.perf_counter()
    (out,) = session.run(["last_hidden_state"], feeds)[:1]
    warmup_s = time.perf_counter() - t0
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        session.run(["last_hidden_state"], feeds)
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    print(json.dumps({
        "model": str(args.model), "onnxruntime": ort.__version__, "threads": args.threads,
        "cpus": os.cpu_count(), "batch": args.batch, "seq": args.seq, "output": list(out.shape),
        "session_load_s": round(load_s, 2), "warmup_s": round(warmup_s, 2),
        "runs_s": [round(t, 2) for t in times], "median_s": round(median, 2),
        "tokens_per_s": round(args.batch * args.seq / median, 1),
        "passages_per_s": round(args.batch / median, 2),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }, indent=1))


if __name__ == "__main__":
    main()
