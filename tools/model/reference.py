#!/usr/bin/env python3
"""Reference token ids and vectors for bge-small-en-v1.5, computed with Python's `tokenizers`
and `onnxruntime` (independent of our TypeScript code), for libs/embeddings/test/Reference.test.ts.

    python3 -m venv .cache/venv && .cache/venv/bin/pip install tokenizers onnxruntime numpy
    npm run model
    .cache/venv/bin/python tools/model/reference.py

Writes libs/embeddings/test/data/bge-small-en-v1.5.reference.json (vectors rounded to 6 decimals).
Each text is embedded on its own (batch of one, no padding): [CLS] pooling, L2 normalisation,
truncation to 512 tokens as `transformers` does with truncation=True.
"""
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tokenizers
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = Path(os.environ.get("POLYMATH_MODELS_DIR", ROOT / ".models"))
MODEL_DIR = MODELS_DIR / "bge-small-en-v1.5"
OUT = ROOT / "libs" / "embeddings" / "test" / "data" / "bge-small-en-v1.5.reference.json"
MAX_TOKENS = 512

TEXTS = [
    ("english", "Knowledge graphs connect papers, authors, institutions and research topics."),
    ("accents", "Crème brûlée, naïve café, São Paulo, Zürich, Ångström, Łódź — “déjà vu” … ﬁnancial ligature."),
    ("cjk", "机器学习是人工智能的一个分支。東京大学の研究者が新しいモデルを発表しました。한국어 문장도 있습니다."),
    ("emoji", "Emoji 🚀🔥👍🏽 and a family 👨‍👩‍👧‍👦, flags 🇫🇷🇯🇵 and a heart ❤️ in text."),
    ("scripts", "Αρχαία ελληνικά, русский текст, עברית, العربية, हिन्दी, ไทย"),
    ("control", "Mixed\u0000control\u0007chars\u200bzero\u00a0width soft\u00adhyphen\ttab\r\nnewline"),
    ("empty", ""),
    ("whitespace", "   \t\n  "),
    ("over-length", " ".join(f"Passage {i}: graph neural networks propagate information along the edges." for i in range(120))),
]


def embed(session: ort.InferenceSession, ids: list[int], type_ids: list[int]) -> np.ndarray:
    feeds = {
        "input_ids": np.array([ids], dtype=np.int64),
        "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
        "token_type_ids": np.array([type_ids], dtype=np.int64),
    }
    names = {i.name for i in session.get_inputs()}
    hidden = session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in names})[0]
    cls = hidden[0, 0, :].astype(np.float64)
    return cls / np.linalg.norm(cls)


def main() -> None:
    tokenizer = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sessions = {
        variant: ort.InferenceSession(str(MODEL_DIR / file), options, providers=["CPUExecutionProvider"])
        for variant, file in (("fp32", "model.onnx"), ("int8", "model-q.onnx"))
    }
    cases = []
    for label, text in TEXTS:
        enc = tokenizer.encode(text)
        case = {"label": label, "text": text, "ids": enc.ids}
        for variant, session in sessions.items():
            case[variant] = [round(float(x), 6) for x in embed(session, enc.ids, enc.type_ids)]
        cases.append(case)
        print(f"{label:12s} {len(enc.ids):4d} tokens", file=sys.stderr)
    data = {
        "model": "bge-small-en-v1.5",
        "generatedBy": "tools/model/reference.py",
        "python": platform.python_version(),
        "tokenizers": tokenizers.__version__,
        "onnxruntime": ort.__version__,
        "maxTokens": MAX_TOKENS,
        "pooling": "cls",
        "normalize": True,
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # One case per line keeps the file diffable and small.
    body = ",\n".join("    " + json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases)
    header = json.dumps({k: v for k, v in data.items() if k != "cases"}, ensure_ascii=False, indent=2)[:-2]
    OUT.write_text(f'{header},\n  "cases": [\n{body}\n  ]\n}}\n', encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
