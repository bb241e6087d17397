"""Prompt signals: a small trained classifier for the five harvesting intents.

Each signal is the probability that a prompt *asks for* one thing a distiller harvests:

``p_reasoning``    the full chain of thought / reasoning trace;
``p_reconstruct``  a reasoning trace reconstructed behind a given final answer;
``p_grading``      rubric / reward-model style grading of a response;
``p_tool``         an agent's narrated reasoning around tool calls (trajectory harvesting);
``p_rewrite``      a censorship-safe, politically "safe" rewrite of an answer.

Benign users say "explain step by step" too, so one prompt's signal is weak evidence by
design; detectors aggregate signals over an account's or a cluster's traffic.

The model is a hashing vectoriser (char_wb 2–5-grams and word 1–2-grams, no vocabulary to
ship) and one logistic regression per signal, trained by ``scripts/train_prompt_signals.py``
and shipped as ``data/prompt_signals.npz``.  It reads the normal form of the system prompt's
head and of the prompt's head and tail (:func:`classifier_text`): harvest instructions sit
around the task, and the length of the task must not change the cost.  The model file is
read on first use, never at import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

SIGNALS = ("reasoning", "reconstruct", "grading", "tool", "rewrite")
"""Order of the columns of :meth:`SignalModel.predict` and of the ``p_*`` feature columns."""

MODEL_RESOURCE = "prompt_signals.npz"
MODEL_FORMAT = 1

SYSTEM_CHARS = 600
HEAD_CHARS = 900
TAIL_CHARS = 500

VECTORIZER_CONFIG: dict[str, Any] = {
    "char": {"analyzer": "char_wb", "ngram_range": [2, 5], "n_features": 2**17},
    "word": {"analyzer": "word", "ngram_range": [1, 2], "n_features": 2**17},
}
"""Both halves use ``alternate_sign=False``, ``lowercase=False`` (input is casefolded) and
l2 norm; the char features come first in the stacked matrix."""


def classifier_text(normal_prompt: str, normal_system: str = "") -> str:
    """What the classifier reads: system head, then the prompt's head and tail."""
    prompt = normal_prompt
    if len(prompt) > HEAD_CHARS + TAIL_CHARS:
        prompt = prompt[:HEAD_CHARS] + "\n" + prompt[-TAIL_CHARS:]
    if normal_system:
        return normal_system[:SYSTEM_CHARS] + "\n\n" + prompt
    return prompt


def make_vectorizers(config: dict[str, Any]) -> tuple[HashingVectorizer, HashingVectorizer]:
    """The two hashing vectorisers described by ``config`` (see VECTORIZER_CONFIG)."""
    out = []
    for part in ("char", "word"):
        spec = config[part]
        out.append(
            HashingVectorizer(
                analyzer=spec["analyzer"],
                ngram_range=tuple(spec["ngram_range"]),
                n_features=int(spec["n_features"]),
                alternate_sign=False,
                lowercase=False,
                norm="l2",
                dtype=np.float32,
            )
        )
    return out[0], out[1]


def vectorize(
    texts: list[str], vectorizers: tuple[HashingVectorizer, HashingVectorizer]
) -> sp.csr_matrix:
    """Stacked char and word features of classifier texts."""
    char, word = vectorizers
    return sp.hstack([char.transform(texts), word.transform(texts)], format="csr")


@dataclass(frozen=True)
class SignalModel:
    """Fitted coefficients of the five signals and the vectoriser that feeds them."""

    coef: npt.NDArray[np.float32]
    """(signals × features)."""
    intercept: npt.NDArray[np.float32]
    config: dict[str, Any]
    vectorizers: tuple[HashingVectorizer, HashingVectorizer]

    def predict(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """(texts × signals) probabilities in [0, 1]; one vectorisation for the whole batch."""
        if not texts:
            return np.zeros((0, len(SIGNALS)), dtype=np.float32)
        features = vectorize(texts, self.vectorizers)
        logits = np.asarray(features @ self.coef.T) + self.intercept
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
