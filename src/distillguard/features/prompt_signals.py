"""Prompt signals: a small trained classifier for the five harvesting intents.

Each signal is the probability that a prompt *asks for* one thing a distiller harvests:

``p_reasoning``    the full chain of thought / reasoning trace;
``p_reconstruct``  a reasoning trace reconstructed behind a given final answer;
``p_grading``      rubric / reward-model style grading of a response;
``p_tool``         an agent's narrated reasoning around tool calls (trajectory harvesting);
``p_rewrite``      a censorship-safe, politically "safe" rewrite of an answer.

Benign users say "explain step by step" too, so one prompt's signal is weak evidence by
design; detectors aggregate signals over an account's or a cluster's traffic.

The model is a hashing vectoriser (character 1–5-grams hashed with NumPy, no vocabulary
to ship) and one logistic regression per signal, trained by ``scripts/train_prompt_signals.py``
and shipped as ``data/prompt_signals.npz``.  It reads the normal form of the system prompt's
head and of the prompt's head and tail (:func:`classifier_text`): harvest instructions sit
around the task, and the length of the task must not change the cost.  The model file is
read on first use, never at import.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

SIGNALS = ("reasoning", "reconstruct", "grading", "tool", "rewrite")
"""Order of the columns of :meth:`SignalModel.predict` and of the ``p_*`` feature columns."""

MODEL_RESOURCE = "prompt_signals.npz"
MODEL_FORMAT = 2

SYSTEM_CHARS = 300
HEAD_CHARS = 500
TAIL_CHARS = 300

VECTORIZER_CONFIG: dict[str, Any] = {"ngram_range": [2, 5], "n_features": 2**18}
"""Character 2–5-grams of the (casefolded) classifier text, hashed into ``n_features``
buckets, counted and divided by the square root of the text's n-gram count."""


def classifier_text(normal_prompt: str, normal_system: str = "") -> str:
    """What the classifier reads: system head, then the prompt's head and tail."""
    prompt = normal_prompt
    if len(prompt) > HEAD_CHARS + TAIL_CHARS:
        prompt = prompt[:HEAD_CHARS] + "\n" + prompt[-TAIL_CHARS:]
    if normal_system:
        return normal_system[:SYSTEM_CHARS] + "\n\n" + prompt
    return prompt


_SEPARATOR = 0  # code point placed between texts; no n-gram may contain it
_MULTIPLIER = np.uint64(0x100000001B3)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
"""Fibonacci hashing: the top bits of (hash × golden ratio) pick the bucket."""


def make_vectorizers(config: dict[str, Any]) -> dict[str, Any]:
    """The vectoriser settings (kept as a function for the model file's format)."""
    return {"ngram_range": tuple(config["ngram_range"]), "n_features": int(config["n_features"])}


@dataclass(frozen=True)
class NgramRows:
    """The character n-grams of one length, as the rows of a CSR matrix (one row per text).

    ``columns`` holds each n-gram's bucket in text order, with :attr:`blank` (one past the
    last bucket) where the n-gram crosses a separator or a NUL character and so does not
    count; ``indptr`` gives each text's slice; ``counted`` is each text's number of real
    n-grams.  Keeping the blank entries in place, instead of filtering them out, saves two
    passes over every n-gram and an array of text numbers: the blank column's weights are
    zero, so the product is the same.
    """

    indptr: npt.NDArray[np.signedinteger[Any]]
    columns: npt.NDArray[np.signedinteger[Any]]
    counted: npt.NDArray[np.int64]
    blank: int


def ngram_rows(texts: list[str], vectorizers: dict[str, Any]) -> Iterator[NgramRows]:
    """The hashed character n-grams of the texts, one n-gram length at a time.

    All texts are joined with a separator and hashed together: a rolling polynomial hash per
    n-gram length, salted by the length, then Fibonacci hashing into a bucket.  These are the
    same kind of features as scikit-learn's char HashingVectorizer, without a Python loop per
    text or per n-gram.
    """
    low, high = vectorizers["ngram_range"]
    n_features = int(vectorizers["n_features"])
    bits = n_features.bit_length() - 1
    if 1 << bits != n_features:
        raise ValueError("prompt-signal n_features must be a power of two")
    joined = "\x00".join(texts)
    narrow = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    size = len(narrow)
    index_type: type[np.signedinteger[Any]] = np.int32 if size < 2**31 - 1 else np.int64
    separators = np.flatnonzero(narrow == _SEPARATOR)
    codes = narrow.astype(np.uint64)
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    np.cumsum(lengths, out=starts[1:])
    # The hashes are updated in place (a view shortened by one each round), the buckets
    # are mixed in one reused buffer: the same values as fresh arrays per step, without
    # allocating and filling a dozen per length.
    rolling = np.zeros(size, dtype=np.uint64)
    mixed = np.empty(size, dtype=np.uint64)
    shift = np.uint64(64 - bits)
    with np.errstate(over="ignore"):
        for n in range(1, high + 1):
            if n > size:
                break
            count = size - n + 1
            rolling = rolling[:count]
            np.multiply(rolling, _MULTIPLIER, out=rolling)
            np.add(rolling, codes[n - 1 :], out=rolling)
            if n < low:
                continue
            salt = np.uint64((n * 0x9E3779B97F4A7C15) % 2**64)
            buckets = mixed[:count]
            np.bitwise_xor(rolling, salt, out=buckets)
            np.multiply(buckets, _GOLDEN, out=buckets)
            np.right_shift(buckets, shift, out=buckets)
            columns = buckets.astype(index_type)
            # An n-gram starting up to n - 1 places before a separator contains it.
            crossing = (separators[:, None] - np.arange(n)[None, :]).ravel()
            crossing = np.unique(crossing[(crossing >= 0) & (crossing < count)])
            columns[crossing] = n_features
            indptr = np.minimum(starts, count)
            indptr[-1] = count
            per_text = np.diff(indptr) - np.bincount(
                np.searchsorted(indptr, crossing, side="right") - 1, minlength=len(texts)
            )
            yield NgramRows(indptr.astype(index_type), columns, per_text, n_features)


def ngram_buckets(
    texts: list[str], vectorizers: dict[str, Any]
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """(text index, bucket) of every counted character n-gram, one n-gram length at a time
    (:func:`ngram_rows` without the blank entries)."""
    for rows in ngram_rows(texts, vectorizers):
        doc = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(rows.indptr))
        keep = rows.columns != rows.blank
        yield doc[keep], rows.columns[keep].astype(np.int64)


def vectorize(texts: list[str], vectorizers: dict[str, Any]) -> sp.csr_matrix:
    """Feature matrix for training: n-gram counts divided by sqrt(number of n-grams).

    The length normalisation (not an l2 norm) lets prediction compute the same linear
    score with weighted bincounts, without building or sorting a sparse matrix.
    """
    pairs = list(ngram_buckets(texts, vectorizers))
    doc = np.concatenate([d for d, _ in pairs]) if pairs else np.zeros(0, dtype=np.int64)
    bucket = np.concatenate([b for _, b in pairs]) if pairs else np.zeros(0, dtype=np.int64)
    totals = np.bincount(doc, minlength=len(texts)).astype(np.float32)
    weights = 1.0 / np.sqrt(np.maximum(totals, 1.0))
    matrix = sp.csr_matrix(
        (weights[doc], (doc, bucket)), shape=(len(texts), int(vectorizers["n_features"]))
    )
    matrix.sum_duplicates()
    return matrix


@dataclass(frozen=True)
class SignalModel:
    """Fitted coefficients of the five signals and the vectoriser that feeds them."""

    coef: npt.NDArray[np.float32]
    """(signals × features)."""
    intercept: npt.NDArray[np.float32]
    config: dict[str, Any]
    vectorizers: dict[str, Any]

    @cached_property
    def feature_weights(self) -> npt.NDArray[np.float32]:
        """((features + 1) × signals): the coefficients laid out one feature to a row, and a
        row of zeros for :attr:`NgramRows.blank`."""
        weights = np.zeros((self.coef.shape[1] + 1, self.coef.shape[0]), dtype=np.float32)
        weights[:-1] = self.coef.T
        return weights

    def predict(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """(texts × signals) probabilities in [0, 1]; one vectorisation for the whole batch."""
        if not texts:
            return np.zeros((0, len(SIGNALS)), dtype=np.float32)
        rows = len(texts)
        totals = np.zeros(rows, dtype=np.float64)
        sums = np.zeros((rows, len(SIGNALS)), dtype=np.float64)
        for ngrams in ngram_rows(texts, self.vectorizers):
            # One sparse product reads each n-gram's five weights together.
            totals += ngrams.counted
            counts = sp.csr_matrix(
                (np.ones(len(ngrams.columns), dtype=np.float32), ngrams.columns, ngrams.indptr),
                shape=(rows, self.feature_weights.shape[0]),
            )
            sums += counts @ self.feature_weights
        logits = sums / np.sqrt(np.maximum(totals, 1.0))[:, None] + self.intercept
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def save(self, path: Path) -> None:
        """Write the compressed model file (float16 coefficients keep it small)."""
        np.savez_compressed(
            path,
            coef=self.coef.astype(np.float16),
            intercept=self.intercept.astype(np.float32),
            config=np.array(json.dumps({"format": MODEL_FORMAT, **self.config})),
            signals=np.array(json.dumps(SIGNALS)),
        )

    @staticmethod
    def load(source: Any) -> SignalModel:
        """Read a model file written by :meth:`save` (a path or a binary file object)."""
        with np.load(source, allow_pickle=False) as data:
            config = json.loads(str(data["config"]))
            if config.pop("format") != MODEL_FORMAT:
                raise ValueError("prompt-signal model file has an unknown format")
            if tuple(json.loads(str(data["signals"]))) != SIGNALS:
                raise ValueError("prompt-signal model file has other signals")
            return SignalModel(
                coef=data["coef"].astype(np.float32),
                intercept=data["intercept"].astype(np.float32),
                config=config,
                vectorizers=make_vectorizers(config),
            )


@lru_cache(maxsize=1)
def default_model() -> SignalModel:
    """The shipped model, read once on first use."""
    resource = resources.files("distillguard.features").joinpath("data", MODEL_RESOURCE)
    with resource.open("rb") as handle:
        return SignalModel.load(handle)


def prompt_signals(texts: list[str]) -> npt.NDArray[np.float32]:
    """Signals of classifier texts (see :func:`classifier_text`) with the shipped model."""
    return default_model().predict(texts)
