#!/usr/bin/env python3
"""Builds a small XLM-RoBERTa-style tokenizer (the layout of BGE-M3's tokenizer.json) for tests.

BGE-M3's own tokenizer.json (250002 pieces) cannot be downloaded here, so this trains a small
SentencePiece *unigram* model (about 8000 pieces) on a deterministic multilingual text set that
this script generates itself (English research prose, accented Latin-script words, Chinese,
Japanese and Korean, emoji, digits), with XLM-R's SentencePiece settings (unigram, nmt_nfkc
normalisation rule, dummy prefix, <unk>=0 <s>=1 </s>=2), then converts it with transformers'
own XLM-RoBERTa converter (`XLMRobertaConverter`, the one `convert_slow_tokenizer` uses for
`XLMRobertaTokenizer`). The result has what BGE-M3's file has:

  * model: Unigram, fairseq ids (<s>=0 <pad>=1 </s>=2 <unk>=3, SentencePiece pieces shifted by
    one, <mask> last), unk_id 3;
  * normalizer: SentencePiece's precompiled charsmap (nmt_nfkc), then whitespace clean-up;
  * pre-tokenizer: Metaspace ("▁", prepend_scheme always);
  * post-processor: TemplateProcessing "<s> $A </s>";
  * truncation and padding: none (null) in the file.

    python3 -m venv .cache/venv-xlmr
    .cache/venv-xlmr/bin/pip install -r tools/model/xlmr/requirements.txt
    .cache/venv-xlmr/bin/python tools/model/xlmr/make_tokenizer.py

Writes libs/embeddings/test/data/xlmr/tokenizer.json (and keeps the corpus and the SentencePiece
model under .cache/xlmr-tokenizer/). Deterministic: a fixed seed for the corpus, and
SentencePiece trains on one thread without sampling or shuffling.
"""
import argparse
import json
import random
import sys
from pathlib import Path

import sentencepiece as spm
import tokenizers
import transformers
from transformers.convert_slow_tokenizer import XLMRobertaConverter

ROOT = Path(__file__).resolve().parents[3]
WORK = ROOT / ".cache" / "xlmr-tokenizer"
OUT = ROOT / "libs" / "embeddings" / "test" / "data" / "xlmr" / "tokenizer.json"
SEED = 20240917
VOCAB_SIZE = 8000

# ---------------------------------------------------------------------------------------------
# The corpus: generated from word lists with a seeded PRNG (no downloads, same bytes every run).
# ---------------------------------------------------------------------------------------------

EN_NOUNS = """
algorithm analysis approach architecture argument article assumption attention author baseline
benchmark bias biology boundary catalyst category cell chemistry citation classifier cluster
cohort coefficient collaboration complexity component computation concept conclusion condition
conference confidence constraint context contribution convergence corpus correlation cortex
criterion curriculum dataset decade decision definition degree density dependency derivative
design detection deviation diagnosis dimension discovery disease distribution domain dynamics
ecosystem effect efficiency eigenvalue electron embedding emission encoder energy entropy enzyme
equation equilibrium error estimate evaluation evidence evolution experiment explanation factor
feature feedback field finding fluid framework frequency function galaxy gene generalization
genome gradient graph habitat hypothesis image implementation inference information institution
interaction interface interval journal kernel knowledge laboratory language latency layer lattice
learning library limitation literature manuscript margin material matrix measurement mechanism
membrane memory metabolism method metric microscope model molecule momentum network neuron noise
observation optimization orbit organism outcome parameter particle passage pathway pattern
performance phenomenon photon physics planet policy polymer population posterior precision
prediction preprint principle prior probability problem procedure process protein protocol
quantum query radiation randomization rate reaction reasoning receptor recall regression
regularization reinforcement relation replication representation research researcher residual
resolution resource response result retrieval review reward robustness sample scale scheme
science score segment semantics sensor sequence signal simulation solution spectrum stability
statistic stimulus strategy structure study subject supervision surface survey symmetry synapse
system taxonomy technique temperature tensor theorem theory threshold tissue token topic
trajectory transformer transition treatment trial uncertainty university validation variable
variance vector velocity vocabulary voltage wavelength weight workflow
""".split()

EN_ADJS = """
abstract accurate adaptive additional adversarial analytical approximate asymptotic automatic
bayesian biological broad causal central chemical classical clinical cognitive coherent
comparative complex computational conditional consistent continuous convex critical cross-lingual
deep dense deterministic differentiable discrete distributed dynamic ecological efficient
empirical energetic experimental explicit exponential formal fundamental general generative
genetic geometric global hierarchical high-dimensional implicit independent inductive large
latent linear local low-resource marginal mathematical maximal molecular monolingual multilingual
multimodal natural negative neural noisy nonlinear novel numerical observational open optimal
orthogonal parallel partial physical positive practical pretrained previous probabilistic
quantitative random recent recurrent relevant robust scalable semantic sequential significant
small sparse spatial spectral stable statistical stochastic structural supervised symbolic
synthetic systematic temporal theoretical thermal topological unsupervised variational visual
""".split()

EN_VERBS = """
achieves analyzes applies approximates captures characterizes combines compares computes confirms
constrains demonstrates derives describes detects determines estimates evaluates examines explains
explores extends identifies improves increases infers introduces investigates measures models
observes optimizes outperforms predicts proposes quantifies reduces reveals samples shows
simulates suggests summarizes supports tests transforms validates
""".split()

EN_GLUE = """
the a an of in on for with from by across under over between within without through toward
and or but while whereas because although however therefore moreover furthermore
""".split()

EN_NAMES = """
Smith Johnson Garcia Chen Wang Kumar Nguyen Ivanova Rossi Tanaka Kim Okafor Silva Novak
Hernández Müller Dubois Larsen Kowalski Yamamoto Petrov Haddad Schmidt Costa O'Brien
""".split()

ACCENTED = """
café naïve Zürich São Paulo Málaga Ångström Łódź crème brûlée façade résumé Müller Köln Gödel
Erdős Dvořák señor niño coöperate Bogotá Reykjavík Kraków Besançon Genève Québec Montréal
Göttingen Düsseldorf Malmö Tromsø Århus Škoda Žižek Čapek Brașov Poincaré Fréchet Schrödinger
Hölder Lévy Bézier Cauchy–Schwarz déjà vu à la carte naïveté über Fräulein Straße Ärzte
Öffentlichkeit Übersetzung élève étudiant université recherche données modèle apprentissage
réseau neuronal données ciência dados pesquisa informação coração ação educação Português
Español investigación análisis matemáticas física química biología año mañana pequeño Ñandú
Italiano città università però perché Türkçe öğrenci araştırma İstanbul ağ Việt Nam tiếng Việt
nghiên cứu Polski język źródło żółć Ελληνικά έρευνα μάθηση Русский язык исследование данные
""".split()

FR = [
    "Les chercheurs de l'université de Genève ont présenté un modèle d'apprentissage profond.",
    "La façade du café à Montréal était décorée pour la conférence sur les réseaux neuronaux.",
    "Cette étude décrit une méthode naïve mais efficace pour l'analyse des données.",
    "Le résumé de l'article mentionne déjà les résultats expérimentaux et théoriques.",
]
DE = [
    "Die Forscher aus Zürich und Köln untersuchten die Übersetzung wissenschaftlicher Texte.",
    "Größere Modelle benötigen mehr Speicher, aber die Genauigkeit verbessert sich deutlich.",
    "Der Lehrstuhl in Göttingen veröffentlichte eine Studie über Schrödingers Gleichung.",
]
ES_PT = [
    "El análisis de los datos en São Paulo y Bogotá mostró una mejora significativa.",
    "A pesquisa da universidade avaliou a ação de modelos de linguagem em português.",
    "La investigación en Málaga utilizó matemáticas y física para modelar el año climático.",
]
ZH = [
    "机器学习是人工智能的一个重要分支。", "研究人员提出了一种新的图神经网络模型。",
    "这篇论文讨论了知识图谱和信息检索的关系。", "实验结果表明该方法在多个数据集上表现优异。",
    "我们使用大规模语料库训练多语言嵌入模型。", "北京大学和清华大学的学者合作完成了这项研究。",
    "深度学习模型需要大量的计算资源和数据。", "自然语言处理包括分词、句法分析和语义理解。",
    "向量数据库可以高效地存储和查询高维向量。", "该系统同时支持中文、英文和日文的文本。",
    "科学家在上海的实验室里观察到了新的现象。", "这个算法的时间复杂度是线性的。",
]
JA = [
    "東京大学の研究者が新しいモデルを発表しました。", "機械学習は人工知能の一分野です。",
    "この論文では、グラフニューラルネットワークについて説明します。", "データベースにベクトルを保存します。",
    "京都の研究所で実験が行われました。", "日本語の文章をトークンに分割することは難しいです。",
    "カタカナとひらがなと漢字を組み合わせて書きます。", "コンピュータサイエンスの教授が講演しました。",
]
KO = [
    "한국어 문장도 있습니다.", "서울대학교 연구진이 새로운 모델을 발표했습니다.",
    "기계 학습은 인공지능의 한 분야입니다.",
]
# Common Chinese characters, so that many pieces are single ideographs as in XLM-R.
HANZI = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她"
    "里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老"
    "从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机"
    "给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产"
    "入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提"
    "感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛"
    "林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权"
    "往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式"
)
KANA = (
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
    "ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポャュョッー"
)
EMOJI = [
    "🚀", "🔥", "👍", "👍🏽", "🎉", "😀", "😂", "🤖", "📊", "📈", "🧪", "🧬", "🔬", "💡", "✅", "❌",
    "❤️", "⭐", "🌍", "🇫🇷", "🇯🇵", "🇧🇷", "👨‍👩‍👧‍👦", "👩‍🔬", "🧑‍💻", "🏳️‍🌈",
]


def english_sentence(rng: random.Random) -> str:
    subject = f"{rng.choice(['This', 'Our', 'The', 'A', 'Each'])} {rng.choice(EN_ADJS)} {rng.choice(EN_NOUNS)}"
    obj = f"{rng.choice(EN_GLUE[:3])} {rng.choice(EN_ADJS)} {rng.choice(EN_NOUNS)}"
    tail = f"{rng.choice(EN_GLUE[3:20])} {rng.choice(EN_NOUNS)}s" if rng.random() < 0.7 else ""
    s = f"{subject} {rng.choice(EN_VERBS)} {obj} {tail}".strip() + rng.choice([".", ".", ".", ";", ","])
    if rng.random() < 0.25:
        s += f" ({rng.choice(EN_NAMES)} et al., {rng.randint(1950, 2025)})"
    if rng.random() < 0.2:
        s = s.replace(" the ", " THE ") if rng.random() < 0.3 else s.capitalize()
    return s


def number_phrase(rng: random.Random) -> str:
    return rng.choice([
        f"{rng.randint(0, 100)}.{rng.randint(0, 99):02d}%",
        f"p < 0.{rng.randint(1, 50):03d}",
        f"n = {rng.randint(10, 100000):,}",
        f"arXiv:{rng.randint(1501, 2512)}.{rng.randint(10000, 99999)}",
        f"doi:10.{rng.randint(1000, 9999)}/{rng.randint(100000, 999999)}",
        f"{rng.randint(1, 31)}/{rng.randint(1, 12)}/{rng.randint(1990, 2030)}",
        f"{rng.randint(1, 9)}.{rng.randint(0, 9)}e-{rng.randint(1, 12)}",
        f"Table {rng.randint(1, 12)}", f"Figure {rng.randint(1, 9)}{rng.choice('abc')}",
        f"{rng.randint(1, 999)} ms", f"{rng.randint(1, 64)} GB", f"v{rng.randint(0, 9)}.{rng.randint(0, 20)}",
    ])


def hanzi_line(rng: random.Random) -> str:
    return rng.choice(ZH) + "".join(rng.choice(HANZI) for _ in range(rng.randint(4, 20))) + "。"


def kana_line(rng: random.Random) -> str:
    return rng.choice(JA) + "".join(rng.choice(KANA) for _ in range(rng.randint(3, 12))) + "。"


def corpus(rng: random.Random, lines: int) -> list[str]:
    out = []
    for _ in range(lines):
        r = rng.random()
        if r < 0.45:
            parts = [english_sentence(rng) for _ in range(rng.randint(1, 4))]
            if rng.random() < 0.4:
                parts.insert(rng.randint(0, len(parts)), number_phrase(rng))
            if rng.random() < 0.15:
                parts.append(rng.choice(EMOJI))
            line = " ".join(parts)
        elif r < 0.60:
            words = rng.sample(ACCENTED, rng.randint(3, 10))
            line = rng.choice(FR + DE + ES_PT) + " " + " ".join(words)
        elif r < 0.74:
            line = hanzi_line(rng)
        elif r < 0.84:
            line = kana_line(rng)
        elif r < 0.88:
            line = rng.choice(KO) + " " + english_sentence(rng)
        elif r < 0.94:
            line = " ".join(number_phrase(rng) for _ in range(rng.randint(2, 6)))
        else:
            line = " ".join(rng.choice(EMOJI) + " " + rng.choice(EN_NOUNS) for _ in range(rng.randint(1, 5)))
        out.append(line)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--vocab-size", type=int, default=VOCAB_SIZE)
    parser.add_argument("--lines", type=int, default=60000)
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    corpus_path = WORK / "corpus.txt"
    corpus_path.write_text("\n".join(corpus(random.Random(SEED), args.lines)) + "\n", encoding="utf-8")

    prefix = WORK / "spm"
    # XLM-R's sentencepiece.bpe.model is in fact a unigram model with the nmt_nfkc rule and a
    # dummy prefix; ids <unk>=0 <s>=1 </s>=2 (the converter shifts them to fairseq's layout).
    spm.SentencePieceTrainer.train(
        input=str(corpus_path),
        model_prefix=str(prefix),
        model_type="unigram",
        vocab_size=args.vocab_size,
        character_coverage=0.9995,
        normalization_rule_name="nmt_nfkc",
        add_dummy_prefix=True,
        remove_extra_whitespaces=True,
        split_digits=False,
        byte_fallback=False,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        num_threads=1,
        hard_vocab_limit=False,
        minloglevel=2,
    )

    class SlowXlmr:
        """What XLMRobertaConverter reads from a slow XLMRobertaTokenizer (transformers >= 5 has no
        slow class any more): the SentencePiece file and the fairseq ids of the special tokens."""
        vocab_file = str(prefix) + ".model"
        add_prefix_space = True
        legacy = True
        _ids = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}

        def convert_tokens_to_ids(self, token: str) -> int:
            return self._ids[token]

    tokenizer = XLMRobertaConverter(SlowXlmr()).converted()
    vocab_size = tokenizer.get_vocab_size()
    tokenizer.add_special_tokens([
        tokenizers.AddedToken(t, special=True, normalized=False, lstrip=(t == "<mask>"))
        for t in ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    ])
    tokenizer.no_truncation()
    tokenizer.no_padding()
    assert tokenizer.token_to_id("<mask>") == vocab_size - 1, "<mask> must be the last id"

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(tokenizer.to_str(pretty=False) + "\n", encoding="utf-8")
    meta = json.loads(args.out.read_text(encoding="utf-8"))
    print(json.dumps({
        "out": str(args.out.relative_to(ROOT)),
        "bytes": args.out.stat().st_size,
        "vocab": vocab_size,
        "model": meta["model"]["type"],
        "normalizer": meta["normalizer"]["type"],
        "pre_tokenizer": meta["pre_tokenizer"],
        "post_processor": meta["post_processor"]["single"],
        "truncation": meta["truncation"],
        "versions": {"python": sys.version.split()[0], "sentencepiece": spm.__version__,
                     "tokenizers": tokenizers.__version__, "transformers": transformers.__version__},
    }, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
