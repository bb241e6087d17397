"""The shortcuts of the feature stage give exactly what the rules they stand for give."""

from __future__ import annotations

import random
import re
import sys
import unicodedata

import numpy as np

from distillguard.features import prompt_signals, templates, text
from distillguard.features.minhash import digests, shingle_list, shingles

_SAMPLES = [
    "Explain   step by step.\t Then\u00a0give the answer\u3000in \u2028 json.",
    "请 逐步 推理, 然后 给出 答案。 Think step by step!",
    "quote \u27e8q\u27e9: rewrite \u27e8code\u27e9 fully, please.",
    "Привет мир, solve 12,5 + 3.0 = ?",
    "zero\u200bwidth\u00adsoft \ufeffbom and ａｂｃ １２３ full width",
    "x" * 30 + "\n\n\n  \n" + "ümlaut ÀÉÎ ×÷ ß",
    "",
    "\u2000\u2001 lone spaces \x1c\x1d\x85 odd",
]


def _old_normalize(raw: str) -> str:
    """The normal form straight from the module docstring's steps."""
    value = unicodedata.normalize("NFKC", raw).translate(dict.fromkeys(map(ord, text.ZERO_WIDTH)))
    value = re.sub(r"\d+(?:[.,]\d+)*", "0", value.casefold())
    value = re.sub(r"[^\S\n]+", " ", value)
    value = re.sub(r"[^\S\n]*\n\s*\n\s*", "\n\n", value)
    value = re.sub(r"[^\S\n]*\n[^\S\n]*", "\n", value)
    return value.strip()


def _random_texts(count: int) -> list[str]:
    rng = random.Random(7)
    alphabet = "ab cZ\n\t0.9,?。请推理⟨⟩\u00a0\u3000\u200bёÀ×_$"
    return [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60))) for _ in range(count)
    ]


def test_odd_spaces_are_every_space_but_blank_and_break() -> None:
    every = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert set(text._ODD_SPACES) == every - {" ", "\n"}
    assert set(text._ASCII_ODD_SPACES) == {c for c in every if c.isascii()} - {" ", "\n"}


def test_normalize_matches_the_plain_steps() -> None:
    for sample in [*_SAMPLES, *_random_texts(400)]:
        assert text.normalize(sample) == _old_normalize(sample), repr(sample)


def test_language_counts_by_runs_match_counts_by_character() -> None:
    def by_character(sample: str) -> tuple[int, ...]:
        patterns = ("[a-zA-Z\u00c0-\u024f]", "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
        return tuple(len(re.findall(p, sample)) for p in (*patterns, r"[^\W\d_]"))

    for sample in [*_SAMPLES, *_random_texts(200)]:
        runs = (text._LATIN, text._HAN, text._ANY_LETTER)
        assert tuple(text._count(p, sample) for p in runs) == by_character(sample)


def test_words_and_han_count_match_the_regexes() -> None:
    for sample in [*_SAMPLES, *_random_texts(400)]:
        assert templates._words(sample) == re.findall(r"[^\W\d_]+", sample)
        assert templates.han_count(sample) == len(re.findall("[\u3400-\u9fff]", sample))


def test_shingle_list_digests_like_the_shingle_set() -> None:
    lists = [shingle_list(s, "zh" if "请" in s else "en") for s in _SAMPLES * 2]
    sets = [shingles(s, "zh" if "请" in s else "en") for s in _SAMPLES * 2]
    assert [set(item) for item in lists] == sets
    assert (digests(lists) == digests(sets)).all()


def test_ngram_buckets_match_a_fresh_computation() -> None:
    texts = [s for s in _SAMPLES if s] + ["ab", "a"]
    vectorizers = {"ngram_range": (2, 5), "n_features": 2**18}
    codes = np.frombuffer("\x00".join(texts).encode("utf-32-le"), dtype=np.uint32)
    got = list(prompt_signals.ngram_buckets(texts, vectorizers))
    starts = np.cumsum([0] + [len(t) + 1 for t in texts])
    for n, (doc, bucket) in zip(range(2, 6), got, strict=True):
        expected_doc, expected_bucket = [], []
        for index, start in enumerate(starts[:-1]):
            for i in range(start, start + len(texts[index]) - n + 1):
                h = 0
                for c in codes[i : i + n]:
                    h = (h * 0x100000001B3 + int(c)) % 2**64
                h ^= (n * 0x9E3779B97F4A7C15) % 2**64
                expected_bucket.append(((h * 0x9E3779B97F4A7C15) % 2**64) >> (64 - 18))
                expected_doc.append(index)
        assert doc.tolist() == expected_doc
        assert bucket.dtype == np.int64 and bucket.tolist() == expected_bucket


def test_prediction_matches_the_training_features() -> None:
    """The blank-column product in ``predict`` scores texts as the training matrix does,
    NUL characters inside a text included."""
    model = prompt_signals.default_model()
    texts = [*_SAMPLES, "nul\x00inside a text", "ab", "a", *_random_texts(50)]
    matrix = prompt_signals.vectorize(texts, model.vectorizers)
    logits = matrix @ model.coef.T.astype(np.float64) + model.intercept
    expected = 1.0 / (1.0 + np.exp(-logits))
    assert np.allclose(model.predict(texts), expected, atol=1e-5)
