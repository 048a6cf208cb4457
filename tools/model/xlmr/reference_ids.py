#!/usr/bin/env python3
"""Reference token ids for the XLM-R-style test tokenizer, computed with Python's `tokenizers`
(the reference implementation), for libs/embeddings/test/XlmrTokenizer.test.ts.

    python3 -m venv .cache/venv-xlmr && .cache/venv-xlmr/bin/pip install -r tools/model/xlmr/requirements.txt
    .cache/venv-xlmr/bin/python tools/model/xlmr/make_tokenizer.py   # if tokenizer.json changed
    .cache/venv-xlmr/bin/python tools/model/xlmr/reference_ids.py

Reads libs/embeddings/test/data/xlmr/tokenizer.json, writes libs/embeddings/test/data/xlmr/reference.json:
per text, `ids` (special tokens added, no truncation) and `truncated` (as Hugging Face truncates with
`enable_truncation(512)`, i.e. transformers' `truncation=True, max_length=512`: longest-first from
the right, the post-processor's <s> and </s> counted, so 510 text tokens between them).

Cross-checks, so the reference itself is trustworthy:
  * transformers' fast tokenizer on the same file (`truncation=True, max_length=512`) gives the same ids;
  * the SentencePiece model the file was converted from (if .cache/xlmr-tokenizer/spm.model is
    there) agrees, in fairseq ids, on the texts where SentencePiece and the HF conversion are
    known to agree (the count is printed, not enforced: the converter's whitespace handling
    differs from SentencePiece on purpose for some inputs).
"""
import hashlib
import json
import sys
from pathlib import Path

import tokenizers
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "libs" / "embeddings" / "test" / "data" / "xlmr"
TOKENIZER = DATA / "tokenizer.json"
OUT = DATA / "reference.json"
SPM = ROOT / ".cache" / "xlmr-tokenizer" / "spm.model"
MAX_TOKENS = 512

LONG_EN = " ".join(
    f"Passage {i}: multilingual retrieval models embed research passages, and graph databases "
    f"link papers, authors and institutions (score {i * 0.37:.2f})."
    for i in range(60)
)
HUGE = " ".join(
    f"Section {i}. Die Übersetzung in Zürich; 机器学习研究{i}; 東京の実験 🚀 café naïve {i * 13 % 997}."
    for i in range(240)
)


def exact_length_text(tokenizer: Tokenizer, target: int) -> str:
    """An English text whose encoding (with <s> and </s>) is exactly `target` tokens long."""
    words = []
    i = 0
    while True:
        text = " ".join(words)
        n = len(tokenizer.encode(text).ids)
        if n == target:
            return text
        if n > target:
            words.pop()
            # pad one token at a time with a single-token word
            while len(tokenizer.encode(" ".join(words)).ids) < target:
                words.append("a")
            if len(tokenizer.encode(" ".join(words)).ids) == target:
                return " ".join(words)
            raise RuntimeError(f"cannot hit {target} tokens")
        words.append(["graph", "model", "passage", "embedding", "retrieval", "the", "of"][i % 7])
        i += 1


def cases(tokenizer: Tokenizer) -> list[tuple[str, str]]:
    return [
        ("english", "Knowledge graphs connect papers, authors, institutions and research topics."),
        ("english-prose", "We propose a scalable approach to multilingual dense retrieval; our model "
                          "outperforms strong baselines across 14 languages (Smith et al., 2021)."),
        ("mixed-case", "tHe TRANSFORMER Model uses ATTENTION; BERT, RoBERTa, XLM-R and bge-M3 are MixedCase."),
        ("accents", "Crème brûlée, naïve café, São Paulo, Zürich, Ångström, Łódź — “déjà vu” … Erdős, Dvořák."),
        ("combining", "Cafe\u0301 nai\u0308ve Zu\u0308rich Sa\u0303o Paulo A\u030angstro\u0308m n\u0303 "
                      "e\u0301\u0301 q\u0307\u0323"),
        ("precomposed-vs-combining", "café = cafe\u0301, Ñ = N\u0303"),
        ("nfkc", "ﬁnancial ﬂow, ＦＵＬＬＷＩＤＴＨ １２３, x² + y³, ½ ⅓, ℌ ℝ, ① ② ③, ㎏ ㍻, Ⅻ, ﹏"),
        ("chinese", "机器学习是人工智能的一个分支。研究人员提出了一种新的图神经网络模型。"),
        ("japanese", "東京大学の研究者が新しいモデルを発表しました。カタカナとひらがな、ﾊﾝｶｸｶﾀｶﾅ。"),
        ("korean", "한국어 문장도 있습니다. 서울대학교 연구진이 새로운 모델을 발표했습니다."),
        ("cjk-mixed", "BGE-M3 支持 100+ 种语言，包括日本語と한국어 and English."),
        ("rare-scripts", "Αρχαία ελληνικά, русский текст, עברית, العربية, हिन्दी, ไทย, ᚠᚢᚦᚨᚱᚲ, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"),
        ("emoji", "Emoji 🚀🔥👍🏽 rocket science 🧪🧬 and a heart ❤️ in text ✅"),
        ("emoji-zwj", "A family 👨‍👩‍👧‍👦, a scientist 👩‍🔬, a coder 🧑‍💻, a rainbow flag 🏳️‍🌈, flags 🇫🇷🇯🇵🇧🇷."),
        ("emoji-only", "🚀"),
        ("numbers", "In 2024, 3.14159 × 10^6 samples (p < 0.001, n = 12,345; 99.9%) cost $1,299.99 "
                    "— arXiv:2402.03216, doi:10.1145/3397271, v1.5, 0x1F, 1e-9, ٣٤٥, ４２."),
        ("digits-long", "12345678901234567890 000000 3.141592653589793238462643383279"),
        ("empty", ""),
        ("space", " "),
        ("whitespace-only", "   \t\n  \r\n "),
        ("tabs-newlines", "first line\nsecond\tline\r\nthird  line\t\ttabs\n\n\nend"),
        ("leading-trailing-spaces", "   padded text with   inner   runs   "),
        ("control-and-zero-width", "Mixed\u0000control\u0007chars\u200bzero\u200dwidth\u00a0nbsp soft\u00adhyphen\ufeffbom"),
        ("special-token-text", "Literal <s> and </s> and <pad> and <unk> and <mask> in text, also <mask>word"),
        ("punctuation", "“Quotes”, ‘single’, «guillemets», „German“, (brackets) [square] {curly} — dash – en…!?"),
        ("urls-code", "See https://example.org/a/b?q=1&x=ü#frag or `SELECT * FROM passages WHERE id = 42;`"),
        ("single-char", "a"),
        ("len-510", exact_length_text(tokenizer, 510)),
        ("len-511", exact_length_text(tokenizer, 511)),
        ("len-512", exact_length_text(tokenizer, 512)),
        ("len-513", exact_length_text(tokenizer, 513)),
        ("len-514", exact_length_text(tokenizer, 514)),
        ("long-english", LONG_EN),
        ("long-cjk", "机器学习是人工智能的一个分支。" * 80),
        ("huge-mixed", HUGE),
    ]


def spm_fairseq_ids(text: str):
    """SentencePiece's own ids for `text`, shifted to fairseq ids as XLM-R does, or None."""
    if not SPM.exists():
        return None
    import sentencepiece as spm  # only for the cross-check
    sp = spm.SentencePieceProcessor(model_file=str(SPM))
    return [0] + [3 if i == 0 else i + 1 for i in sp.encode(text)] + [2]


def main() -> None:
    plain = Tokenizer.from_file(str(TOKENIZER))
    plain.no_truncation()
    plain.no_padding()
    truncating = Tokenizer.from_file(str(TOKENIZER))
    truncating.no_padding()
    truncating.enable_truncation(MAX_TOKENS)  # LongestFirst, Right, stride 0: transformers' truncation=True

    try:
        from transformers import PreTrainedTokenizerFast
        hf = PreTrainedTokenizerFast(tokenizer_file=str(TOKENIZER))
    except Exception as e:  # transformers is only a cross-check
        print(f"transformers cross-check skipped: {e}", file=sys.stderr)
        hf = None

    out_cases = []
    spm_agree = spm_total = 0
    for label, text in cases(plain):
        ids = plain.encode(text).ids
        truncated = truncating.encode(text).ids
        assert truncated[0] == 0 and truncated[-1] == 2 and len(truncated) == min(len(ids), MAX_TOKENS), label
        assert truncated[:-1] == ids[: len(truncated) - 1], label
        if hf is not None:
            assert hf(text)["input_ids"] == ids, f"transformers differs (untruncated): {label}"
            assert hf(text, truncation=True, max_length=MAX_TOKENS)["input_ids"] == truncated, \
                f"transformers differs (truncated): {label}"
        sp = spm_fairseq_ids(text)
        if sp is not None:
            spm_total += 1
            spm_agree += sp == ids
            if sp != ids:
                print(f"  note: SentencePiece differs from the HF conversion on {label!r}", file=sys.stderr)
        out_cases.append({"label": label, "text": text, "length": len(ids), "ids": ids, "truncated": truncated})

    versions = {"python": sys.version.split()[0], "tokenizers": tokenizers.__version__}
    try:
        import transformers
        versions["transformers"] = transformers.__version__
    except ImportError:
        pass
    doc = {
        "$comment": "Generated by tools/model/xlmr/reference_ids.py; do not edit.",
        "tokenizer": "tokenizer.json",
        "tokenizerSha256": hashlib.sha256(TOKENIZER.read_bytes()).hexdigest(),
        "versions": versions,
        "maxTokens": MAX_TOKENS,
        "cases": out_cases,
    }
    OUT.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(json.dumps({
        "out": str(OUT.relative_to(ROOT)), "bytes": OUT.stat().st_size, "cases": len(out_cases),
        "lengths": {c["label"]: c["length"] for c in out_cases},
        "sentencepiece_agrees": f"{spm_agree}/{spm_total}", "versions": versions,
    }, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
