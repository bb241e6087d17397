"""The shipped static embedder: loads offline without torch, embeds English and Chinese,
tags capabilities by meaning, and matches model2vec where model2vec is installed."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from distillguard.features.embeddings import (
    embed,
    model_folder,
    read_safetensors,
    semantic_reference,
    static_embedder,
)

MATH = "A train travels 120 km in 2 hours. How many km does it travel in 5 hours?"
MATH_2 = "If a shirt costs $20 after a 20% discount, what was its original price?"
CODE = "Write a Python function that returns the n-th Fibonacci number using memoization."
CHAT = "What are some good tips for staying motivated when learning to play the guitar?"
ZH_MATH = "一个长方形的长是8厘米，宽是5厘米，求它的面积和周长。"
ZH_CHAT = "请给我推荐几本适合周末阅读的小说，并说说理由。"


def test_model_files_are_small_and_in_model2vec_layout() -> None:
    folder = model_folder()
    names = {p.name for p in folder.iterdir()}
    assert {"tokenizer.json", "model.safetensors", "config.json", "semantic.npz"} <= names
    assert "NOTICE.md" in names
    total = sum(len(p.read_bytes()) for p in folder.iterdir() if p.is_file())
    assert total < 10_000_000
    table = read_safetensors(folder.joinpath("model.safetensors").read_bytes())["embeddings"]
    assert table.dtype == np.float16
    assert 64 <= table.shape[1] <= 128


def test_embeds_english_and_chinese_as_unit_vectors() -> None:
    vectors = static_embedder().encode([MATH, CODE, CHAT, ZH_MATH, ZH_CHAT, ""])
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms[:5], 1.0, atol=1e-4)
    assert norms[5] == 0.0  # nothing to embed


def test_chinese_characters_are_known_tokens() -> None:
    embedder = static_embedder()
    ids = embedder.tokenizer.encode(ZH_MATH + ZH_CHAT, add_special_tokens=False).ids
    known = np.mean([i != embedder.unk for i in ids])
    assert known > 0.95


def test_meaning_is_closer_than_topic_change() -> None:
    math, math_2, chat = static_embedder().encode([MATH, MATH_2, CHAT])
    assert float(math @ math_2) > float(math @ chat)


def test_capability_centroids_tag_clear_examples() -> None:
    """Tags are coarse (holdout accuracy is printed by the build script), but a maths word
    problem and a coding request land on harvestable tags, a chat question does not, and
    Chinese prompts land on a Chinese tag."""
    from distillguard.detectors.semantic.frame import HARVESTABLE

    reference = semantic_reference()
    vectors = static_embedder().encode([MATH, CODE, CHAT, ZH_MATH, ZH_CHAT])
    tags = [reference.labels[i] for i in (vectors @ reference.centroids.T).argmax(axis=1)]
    assert tags[0] in HARVESTABLE
    assert tags[1] == "coding"
    assert tags[2] not in HARVESTABLE
    assert tags[3].startswith("chinese") and tags[4].startswith("chinese")


def test_loads_offline_without_torch() -> None:
    code = (
        "import sys; from distillguard.features.embeddings import embed; "
        "v = embed(['hello world', '你好，世界']); "
        "assert v.shape[0] == 2; "
        "assert 'torch' not in sys.modules and 'model2vec' not in sys.modules; print('ok')"
    )
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "NO_PROXY": "*"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_same_vectors_as_model2vec() -> None:
    model2vec = pytest.importorskip("model2vec")
    model = model2vec.StaticModel.from_pretrained(str(model_folder()))
    texts = [MATH, CODE, ZH_MATH]
    expected = np.asarray(model.encode(texts, max_length=256), dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(static_embedder().encode(texts), expected, atol=2e-3)


def test_repeated_texts_are_embedded_once_with_the_same_vector() -> None:
    texts = ["Prove that 17 is prime.", "写一个排序函数", "Prove that 17 is prime.", ""]
    together = embed(texts)
    one_by_one = np.vstack([embed([text]) for text in texts])
    assert np.array_equal(together, one_by_one)
    assert np.array_equal(together[0], together[2]) and not together[3].any()
