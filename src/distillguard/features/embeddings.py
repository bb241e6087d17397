"""Static prompt embeddings: a model2vec-format model read with ``tokenizers`` and NumPy.

The model in ``data/static_embedder/`` was distilled once from all-MiniLM-L6-v2 by
``scripts/build_static_embedder.py`` (see the NOTICE there).  A static model is a table of
one vector per token: a text's embedding is the mean of its tokens' vectors, L2-normalised.
No neural network runs at scan time, so there is no torch and nothing to download.

The files follow model2vec's layout (``tokenizer.json``, ``model.safetensors`` with one
``embeddings`` tensor, ``config.json``), so ``model2vec.StaticModel.from_pretrained`` loads the
same folder and gives the same vectors; here the safetensors file is read with NumPy (its
format is an 8-byte header length, a JSON header and raw little-endian arrays) to keep the
runtime dependencies to ``tokenizers``.

Beside the model, ``semantic.npz`` holds what the semantic detectors compare against:
capability centroids built from labelled public prompt collections and a benign reference
sample of prompt embeddings (see the build script).  Everything is read on first use.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.abc import Traversable
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

MODEL_FOLDER = "static_embedder"
MODEL_FORMAT = 1
"""Version of the files in the model folder (``semantic.npz`` carries it)."""
MAX_TOKENS = 256
"""Tokens read per text; the task is stated in its first few hundred tokens."""
MAX_CHARS = 1_000
"""Texts are cut to this many characters before tokenizing (bounded cost per text: the task
is stated at the head, and the tokenizer reads the whole text before truncating)."""
BATCH = 2_048

_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "I8": np.int8}

FloatArray = npt.NDArray[np.float32]


def read_safetensors(data: bytes) -> dict[str, npt.NDArray[Any]]:
    """Tensors of a safetensors file (header length, JSON header, raw arrays)."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    start = 8 + length
    tensors: dict[str, npt.NDArray[Any]] = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(spec["dtype"])
        if dtype is None:
            raise ValueError(f"unsupported tensor dtype {spec['dtype']} for {name}")
        begin, end = spec["data_offsets"]
        array = np.frombuffer(
            data[start + begin : start + end], dtype=np.dtype(dtype).newbyteorder("<")
        )
        tensors[name] = array.reshape(spec["shape"])
    return tensors


@dataclass(frozen=True)
class SemanticReference:
    """Capability centroids and the bundled benign reference sample."""

    labels: tuple[str, ...]
    """Capability tag of each centroid row (several centroids per tag)."""
    centroids: FloatArray
    benign: FloatArray
    """Unit-norm embeddings of benign chat and instruction prompts."""
    tags: tuple[str, ...]
    """Every tag, in a fixed order."""


class StaticEmbedder:
    """Token lookup and mean pooling over a distilled static model."""

    def __init__(self, folder: Traversable) -> None:
        from tokenizers import Tokenizer

        config = json.loads(folder.joinpath("config.json").read_text(encoding="utf-8"))
        tensors = read_safetensors(folder.joinpath("model.safetensors").read_bytes())
        self.table: FloatArray = np.asarray(tensors["embeddings"], dtype=np.float32)
        self.normalize = bool(config.get("normalize", True))
        self.tokenizer = Tokenizer.from_str(
            folder.joinpath("tokenizer.json").read_text(encoding="utf-8")
        )
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        unk = self.tokenizer.token_to_id("[UNK]")
        self.unk = -1 if unk is None else int(unk)
        self.dim = int(self.table.shape[1])

    def encode(self, texts: list[str]) -> FloatArray:
        """One unit-norm row per text (a text with no known token gives a zero row).

        Each distinct text is embedded once: popular and scripted prompts recur across
        accounts (a 1M-exchange simulated log's per-account sample held 374k prompts but
        only 21k distinct ones), and tokenizing is most of the cost.
        """
        cut = [t[:MAX_CHARS] for t in texts]
        position: dict[str, int] = {}
        rows = np.fromiter(
            (position.setdefault(t, len(position)) for t in cut), dtype=np.int64, count=len(cut)
        )
        return self._encode_distinct(list(position))[rows]

    def _encode_distinct(self, texts: list[str]) -> FloatArray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            chunk = texts[start : start + BATCH]
            encodings = self.tokenizer.encode_batch_fast(chunk, add_special_tokens=False)
            token_lists = [e.ids for e in encodings]
            counts = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
            every = np.fromiter(
                chain.from_iterable(token_lists), dtype=np.int64, count=int(counts.sum())
            )
            # Unknown tokens carry no meaning: they are left out of the sum and the count.
            known = (every != self.unk).astype(np.float32)
            rows = len(token_lists)
            # One sparse (texts × vocabulary) count matrix times the table sums each text's
            # token vectors without gathering a (tokens × dim) array first.
            counts_matrix = sp.csr_matrix(
                (known, every, np.r_[0, np.cumsum(counts)]), shape=(rows, len(self.table))
            )
            sums = np.asarray(counts_matrix @ self.table, dtype=np.float32)
            lengths = np.asarray(counts_matrix.sum(axis=1), dtype=np.float32).reshape(rows)
            means = np.divide(
                sums, lengths[:, None], out=np.zeros_like(sums), where=lengths[:, None] > 0
            )
            out[start : start + len(token_lists)] = means
        if self.normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
        return out


def model_folder() -> Traversable:
    """The shipped model folder (a package resource)."""
    return resources.files("distillguard.features").joinpath("data", MODEL_FOLDER)


@lru_cache(maxsize=1)
def static_embedder() -> StaticEmbedder:
    """The shipped static embedder, loaded once per process on first use."""
    return StaticEmbedder(model_folder())


@lru_cache(maxsize=1)
def semantic_reference() -> SemanticReference:
    """The shipped capability centroids and benign reference sample."""
    with model_folder().joinpath("semantic.npz").open("rb") as handle:
        data = np.load(handle, allow_pickle=False)
        if int(data["format"]) != MODEL_FORMAT:
            raise ValueError(f"semantic.npz has format {int(data['format'])}, need {MODEL_FORMAT}")
        labels = tuple(str(x) for x in data["labels"])
        return SemanticReference(
            labels=labels,
            centroids=np.asarray(data["centroids"], dtype=np.float32),
            benign=np.asarray(data["benign"], dtype=np.float32),
            tags=tuple(str(x) for x in data["tags"]),
        )


def embed(texts: list[str]) -> FloatArray:
    """Unit-norm embeddings of ``texts`` with the shipped model."""
    return static_embedder().encode(texts)
