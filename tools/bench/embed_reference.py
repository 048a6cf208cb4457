#!/usr/bin/env python3
"""The Python side of `npm run bench -- embed` (method d): embeds the texts of a JSON file with
Python's `onnxruntime` + `tokenizers` (the stack tools/model/reference.py uses), the same ONNX file
and the same intra-op thread count as the TypeScript side, and prints one JSON object.

    .cache/venv/bin/python tools/bench/embed_reference.py --model M.onnx --tokenizer T.json \
        --texts texts.json --threads 2 [--batching single|sorted|fixed] [--batch-tokens 1024] [--batch-rows 64] [--out V.f32]

Batching:
  single  one text per session run, no padding (what tools/model/reference.py does)
  sorted  all texts tokenized with encode_batch, sorted by length, cut into batches of at most
          --batch-rows rows and --batch-tokens rows x longest row, padded to each batch's longest
          (what the TypeScript embedder does)
  fixed   batches of --batch-rows rows in input order, padded to the batch's longest

Timed: tokenization, tensor building, session runs, CLS/mean pooling and L2 normalisation, after two
untimed warm-up runs (a short text; the first batch's shape). Not timed: imports, session creation, reading the texts.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import onnxruntime as ort
import tokenizers
from tokenizers import Tokenizer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--texts", required=True, help="JSON array of strings")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--max-tokens", type=int, default=512)
    p.add_argument("--pooling", choices=["cls", "mean"], default="cls")
    p.add_argument("--batching", choices=["single", "sorted", "fixed"], default="sorted")
    p.add_argument("--batch-tokens", type=int, default=1024)
    p.add_argument("--batch-rows", type=int, default=64)
    p.add_argument("--spinning", choices=["default", "0", "1"], default="default")
    p.add_argument("--limit-batches", type=int, default=0, help="stop after this many session runs (0: all)")
    p.add_argument("--keep", type=int, default=8, help="vectors of the first K texts to print, for parity checks")
    p.add_argument("--out", default=None, help="write every vector, in input order, as float32 little-endian to this file (bench e2e)")
    args = p.parse_args()

    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)

    tok = Tokenizer.from_file(args.tokenizer)
    tok.enable_truncation(args.max_tokens)
    tok.no_padding()
    pad_id = tok.token_to_id("[PAD]")
    if pad_id is None:
        pad_id = tok.token_to_id("<pad>") or 0

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if args.spinning != "default":
        so.add_session_config_entry("session.intra_op.allow_spinning", args.spinning)
    t0 = time.perf_counter()
    session = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - t0
    names = {i.name for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    output = next((n for n in ("sentence_embedding", "dense_vecs", "last_hidden_state", "token_embeddings") if n in outputs), outputs[0])

    def run(rows):
        n = max(len(r.ids) for r in rows)
        ids = np.full((len(rows), n), pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), n), dtype=np.int64)
        types = np.zeros((len(rows), n), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r.ids)] = r.ids
            mask[i, : len(r.ids)] = 1
            types[i, : len(r.ids)] = r.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        out = session.run([output], {k: v for k, v in feeds.items() if k in names})[0]
        if out.ndim == 3:
            if args.pooling == "cls":
                out = out[:, 0, :]
            else:
                m = mask[:, :, None].astype(out.dtype)
                out = (out * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1)

    # Warm-up (untimed): one short run, then one with the first batch's shape (the TypeScript embedder
    # likewise warms up with a short text and a batch of its token budget's shape).
    run([tok.encode("warm-up")])
    first = tok.encode_batch(texts[: 1 if args.batching == "single" else args.batch_rows])
    if args.batching == "sorted":
        first = sorted(first, key=lambda e: len(e.ids))
        n = 0
        while n < len(first) and (n + 1) * len(first[n].ids) <= args.batch_tokens:
            n += 1
        first = first[: max(1, n)]
    run(first)

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    vectors = [None] * len(texts)
    runs = 0
    tokens = 0
    padded = 0
    if args.batching == "single":
        for i, text in enumerate(texts):
            enc = tok.encode(text)
            vectors[i] = run([enc])[0]
            tokens += len(enc.ids)
            padded += len(enc.ids)
            runs += 1
            if args.limit_batches and runs >= args.limit_batches:
                break
    else:
        encs = tok.encode_batch(texts)
        if args.batching == "sorted":
            order = sorted(range(len(encs)), key=lambda i: (len(encs[i].ids), i))
            batches, batch = [], []
            for i in order:
                if batch and (len(batch) >= args.batch_rows or (len(batch) + 1) * len(encs[i].ids) > args.batch_tokens):
                    batches.append(batch)
                    batch = []
                batch.append(i)
            if batch:
                batches.append(batch)
        else:
            batches = [list(range(s, min(len(encs), s + args.batch_rows))) for s in range(0, len(encs), args.batch_rows)]
        for batch in batches:
            rows = [encs[i] for i in batch]
            out = run(rows)
            for k, i in enumerate(batch):
                vectors[i] = out[k]
            tokens += sum(len(r.ids) for r in rows)
            padded += len(rows) * max(len(r.ids) for r in rows)
            runs += 1
            if args.limit_batches and runs >= args.limit_batches:
                break
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    done = sum(1 for v in vectors if v is not None)
    if args.out is not None:
        if done != len(texts):
            raise SystemExit(f"--out needs every text embedded; {done} of {len(texts)} were")
        np.asarray(vectors, dtype="<f4").tofile(args.out)
    print(json.dumps({
        "seconds": seconds,
        "cpu_seconds": cpu,
        "passages": done,
        "tokens": tokens,
        "padded_tokens": padded,
        "runs": runs,
        "session_load_s": load_s,
        "batching": args.batching,
        "threads": args.threads,
        "onnxruntime": ort.__version__,
        "tokenizers": tokenizers.__version__,
        "python": sys.version.split()[0],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "vectors": [[float(x) for x in v] for v in vectors[: args.keep] if v is not None],
    }))


if __name__ == "__main__":
    main()
