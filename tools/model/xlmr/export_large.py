#!/usr/bin/env python3
"""Exports a *randomly initialised* XLM-RoBERTa-large-shaped encoder (BGE-M3's dimensions) to ONNX,
so the embedding path can be exercised at BGE-M3's size and speed without BGE-M3's weights.

The vectors are meaningless (random weights); the shapes, graph, memory and speed are BGE-M3's:
24 layers, hidden 1024, 16 heads, intermediate 4096, vocab 250002, 8194 positions (8192 tokens
plus XLM-R's padding offset), padding id 1, GELU, layer-norm eps 1e-5. About 560M parameters,
~2.2 GB of fp32 weights (kept in an external-data file beside model.onnx).

    python3 -m venv .cache/venv-xlmr
    .cache/venv-xlmr/bin/pip install -r tools/model/xlmr/requirements-export.txt
    .cache/venv-xlmr/bin/python tools/model/xlmr/make_tokenizer.py      # the test tokenizer
    .cache/venv-xlmr/bin/python tools/model/xlmr/export_large.py

Writes .models/xlmr-large-random/{model.onnx, model.onnx.data, tokenizer.json, manifest.json}
(POLYMATH_MODELS_DIR overrides .models). The tokenizer is the small test tokenizer
(libs/embeddings/test/data/xlmr/tokenizer.json): its ids (< 8002) are valid for the 250002-row
embedding table. Graph: inputs input_ids, attention_mask (int64, [batch, sequence], both
dynamic), output last_hidden_state (float32, [batch, sequence, 1024]); CLS pooling and L2
normalisation are the embedder's job, as for BGE-M3.

After the export, the ONNX model is checked against the PyTorch model with onnxruntime on batches
of other shapes than the export's, padded and not (max |difference| of last_hidden_state over the
unpadded positions is printed; must be < 1e-3).
"""
import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import XLMRobertaConfig, XLMRobertaModel

ROOT = Path(__file__).resolve().parents[3]
MODELS_DIR = Path(os.environ.get("POLYMATH_MODELS_DIR", ROOT / ".models"))
NAME = "xlmr-large-random"
TEST_TOKENIZER = ROOT / "libs" / "embeddings" / "test" / "data" / "xlmr" / "tokenizer.json"
SEED = 20240917

# BGE-M3's config.json (an XLMRobertaModel), minus the weights.
BGE_M3 = dict(
    vocab_size=250002,
    hidden_size=1024,
    num_hidden_layers=24,
    num_attention_heads=16,
    intermediate_size=4096,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    max_position_embeddings=8194,
    type_vocab_size=1,
    initializer_range=0.02,
    layer_norm_eps=1e-5,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)


class Encoder(torch.nn.Module):
    """XLMRobertaModel without the pooler, returning last_hidden_state only."""

    def __init__(self, model: XLMRobertaModel):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def build(layers: int, vocab: int) -> torch.nn.Module:
    config = XLMRobertaConfig(**{**BGE_M3, "num_hidden_layers": layers, "vocab_size": vocab})
    config._attn_implementation = "eager"  # plain MatMul/Softmax attention in the graph
    torch.manual_seed(SEED)
    model = XLMRobertaModel(config, add_pooling_layer=False)
    model.eval()
    return Encoder(model).eval()


def sample_inputs(batch: int, seq: int, vocab: int, pad_last: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(5, min(vocab, 8001), (batch, seq), generator=g, dtype=torch.int64)
    ids[:, 0] = 0
    ids[:, -1] = 2
    mask = torch.ones(batch, seq, dtype=torch.int64)
    if pad_last:
        # the last row is shorter: padded with <pad>=1 after its </s>, as the embedder pads
        ids[-1, seq - pad_last - 1] = 2
        ids[-1, seq - pad_last:] = 1
        mask[-1, seq - pad_last:] = 0
    return ids, mask


def export(encoder: torch.nn.Module, path: Path, exporter: str, vocab: int) -> None:
    args = sample_inputs(2, 16, vocab)
    common = dict(
        input_names=["input_ids", "attention_mask"],
        output_names=["last_hidden_state"],
        opset_version=17,
        external_data=True,
    )
    if exporter == "dynamo":
        batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence", max=8194)
        program = torch.onnx.export(
            encoder, args, dynamo=True,
            dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
            **common,
        )
        program.save(str(path), external_data=True)
    else:
        torch.onnx.export(
            encoder, args, str(path), dynamo=False, do_constant_folding=True,
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "last_hidden_state": {0: "batch", 1: "sequence"},
            },
            **common,
        )


def gather_external_data(path: Path) -> None:
    """Re-saves the model with every initializer in one `model.onnx.data` file (the TorchScript
    exporter writes one file per tensor when the model exceeds 2 GB)."""
    import onnx

    model = onnx.load(str(path), load_external_data=True)
    for f in path.parent.iterdir():
        if f != path:
            f.unlink()
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + ".data", size_threshold=1024)
    (path.parent / (path.name + ".data")).chmod(0o644)


def check(encoder: torch.nn.Module, path: Path, vocab: int) -> float:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask"], session.get_inputs()
    assert [o.name for o in session.get_outputs()] == ["last_hidden_state"], session.get_outputs()
    worst = 0.0
    # shapes other than the export's (2 x 16), padded and not, to catch anything traced as a constant
    for batch, seq, pad in [(3, 40, 11), (1, 1, 0), (1, 300, 0), (4, 129, 100)]:
        ids, mask = sample_inputs(batch, seq, vocab, pad_last=pad)
        with torch.no_grad():
            expected = encoder(ids, mask).numpy()
        (got,) = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        assert got.shape == expected.shape, (got.shape, expected.shape)
        valid = mask.numpy().astype(bool)  # padded positions are not compared (they are never pooled)
        worst = max(worst, float(np.abs(got - expected)[valid].max()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=MODELS_DIR / NAME)
    parser.add_argument("--exporter", choices=["torchscript", "dynamo"], default="dynamo")
    parser.add_argument("--layers", type=int, default=BGE_M3["num_hidden_layers"], help="fewer for a quick try")
    parser.add_argument("--vocab", type=int, default=BGE_M3["vocab_size"], help="smaller for a quick try")
    args = parser.parse_args()

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    out: Path = args.out_dir
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    onnx_path = out / "model.onnx"

    t0 = time.perf_counter()
    encoder = build(args.layers, args.vocab)
    params = sum(p.numel() for p in encoder.parameters())
    t1 = time.perf_counter()
    with torch.no_grad():
        export(encoder, onnx_path, args.exporter, args.vocab)
    gather_external_data(onnx_path)
    t2 = time.perf_counter()
    diff = check(encoder, onnx_path, args.vocab)
    t3 = time.perf_counter()
    assert diff < 1e-3, f"ONNX differs from PyTorch: max |diff| {diff}"

    shutil.copyfile(TEST_TOKENIZER, out / "tokenizer.json")
    manifest = {
        "name": NAME,
        "dimensions": BGE_M3["hidden_size"],
        "pooling": "cls",
        "normalize": True,
        "maxTokens": 8192,
        "description": "Randomly initialised XLM-RoBERTa-large (BGE-M3's shape), for size and speed tests; "
                       "vectors are meaningless. Tokenizer: the small XLM-R-style test tokenizer.",
        "seed": SEED,
        "layers": args.layers,
        "vocabSize": args.vocab,
        "parameters": params,
        "exporter": args.exporter,
        "opset": 17,
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "transformers": transformers.__version__},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    sizes = {f.name: f.stat().st_size for f in sorted(out.iterdir())}
    print(json.dumps({
        "out": str(out), "parameters": params, "files": sizes,
        "seconds": {"build": round(t1 - t0, 1), "export": round(t2 - t1, 1), "check": round(t3 - t2, 1)},
        "max_abs_diff_vs_torch": diff,
    }, indent=1))


if __name__ == "__main__":
    main()
