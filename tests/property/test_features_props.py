"""MinHash band keys: identical texts agree, near-duplicates collide, unrelated texts don't."""

from __future__ import annotations

from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.features.minhash import BANDS, lsh_bands
from distillguard.features.text import guess_language, prepare

# Letters only: the normal form folds digits, so "w1" and "w2" would be the same word.
VOCAB = ["".join(letters) for letters in product("abcdefghij", repeat=4)][:5000]
words = st.lists(st.sampled_from(VOCAB), min_size=60, max_size=60, unique=True)


def _bands(text: str) -> list[int]:
    normal = prepare(text).text
    return lsh_bands(normal, "en")


@given(st.text(min_size=0, max_size=300))
@settings(max_examples=60, deadline=None)
def test_identical_text_gives_identical_bands(text: str) -> None:
    first, second = _bands(text), _bands(text)
    assert first == second
    assert len(first) in (0, BANDS)


@given(words, st.integers(min_value=0, max_value=59), st.sampled_from(VOCAB))
@settings(max_examples=80, deadline=None)
def test_one_changed_word_in_sixty_shares_a_band(
    text: list[str], position: int, replacement: str
) -> None:
    changed = list(text)
    changed[position] = replacement
    # Jaccard of 3-gram sets is at least ~0.9 here: P(no shared band) < 1e-9.
    assert set(_bands(" ".join(text))) & set(_bands(" ".join(changed)))


@given(
    st.lists(st.sampled_from(VOCAB[:2500]), min_size=60, max_size=60, unique=True),
    st.lists(st.sampled_from(VOCAB[2500:]), min_size=60, max_size=60, unique=True),
)
@settings(max_examples=80, deadline=None)
def test_unrelated_texts_rarely_share_a_band(first: list[str], second: list[str]) -> None:
    # Random 60-word texts over 5,000 words share almost no 3-grams: P(collision) ~ 16 / 2**32.
    assert not set(_bands(" ".join(first))) & set(_bands(" ".join(second)))


HAN = "天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰余成岁律吕调阳云腾致雨露结为霜"


@given(
    st.text(alphabet=HAN, min_size=80, max_size=80),
    st.integers(min_value=0, max_value=79),
    st.sampled_from(HAN),
)
@settings(max_examples=60, deadline=None)
def test_chinese_near_duplicates_share_a_band_by_characters(
    text: str, position: int, replacement: str
) -> None:
    changed = text[:position] + replacement + text[position + 1 :]
    assert guess_language(text) == "zh"
    first = lsh_bands(prepare(text).text, "zh")
    second = lsh_bands(prepare(changed).text, "zh")
    assert set(first) & set(second)
