"""Maximum mean discrepancy between two samples of unit embeddings (RBF kernel).

``MMD²`` measures how far apart two distributions are in a kernel's feature space: 0 when
they are the same, larger as they differ.  The unbiased estimator used here (Gretton et al.,
JMLR 2012) is

    MMD²_u = mean_{i≠j} k(x_i, x_j) + mean_{i≠j} k(y_i, y_j) − 2 mean_{i,j} k(x_i, y_j)

with ``k(x, y) = exp(−‖x − y‖² / (2σ²))``; ``σ`` is the median pairwise distance of the
reference sample (the usual heuristic), fixed once per scan so statistics are comparable.
For unit vectors ``‖x − y‖² = 2 − 2 x·y``, so every kernel is one matrix product.

Two ways to judge a statistic:

* :func:`permutation_pvalue` — the exact-in-distribution test: shuffle the pooled sample,
  recompute, count how often the shuffled statistic reaches the observed one;
* :class:`NullTable` — a calibrated threshold for many small samples (every account): the
  statistic's distribution when the subject is ``n`` prompts drawn from the reference itself,
  tabulated once per sample size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def median_bandwidth(sample: FloatArray, cap: int = 1_000) -> float:
    """Median pairwise Euclidean distance of (the first ``cap`` rows of) ``sample``."""
    rows = sample[:cap]
    if len(rows) < 2:
        return 1.0
    squared = np.clip(2.0 - 2.0 * (rows @ rows.T), 0.0, None)
    upper = squared[np.triu_indices(len(rows), k=1)]
    median = float(np.sqrt(np.median(upper)))
    return median if median > 1e-6 else 1.0


def kernel(a: FloatArray, b: FloatArray, sigma: float) -> npt.NDArray[np.float64]:
    """RBF kernel matrix between the rows of ``a`` and ``b`` (unit vectors)."""
    return _rbf_of_products(a.astype(np.float64) @ b.astype(np.float64).T, sigma)


def _rbf_of_products(products: npt.NDArray[np.float64], sigma: float) -> npt.NDArray[np.float64]:
    """``exp(−clip(2 − 2p, 0) / 2σ²)`` of dot products ``p``, in place.

    The same numbers as the plain expression (negating a value and doubling it are exact,
    and ``(−s)/c == s/(−c)``), without its five temporary matrices: the kernels of a scan's
    fleets are most of what DG-303 writes to memory.
    """
    products *= -2.0
    products += 2.0
    np.maximum(products, 0.0, out=products)
    products /= -(2.0 * sigma * sigma)
    result: npt.NDArray[np.float64] = np.exp(products, out=products)
    return result


def _offdiag_mean(matrix: npt.NDArray[np.float64]) -> float:
    n = len(matrix)
    if n < 2:
        return 0.0
    return float((matrix.sum() - np.trace(matrix)) / (n * (n - 1)))


def mmd2(x: FloatArray, y: FloatArray, sigma: float) -> float:
    """Unbiased ``MMD²`` between samples ``x`` and ``y`` (each at least 2 rows)."""
    if len(x) < 2 or len(y) < 2:
        raise ValueError("MMD needs at least two rows in each sample")
    return (
        _offdiag_mean(kernel(x, x, sigma))
        + _offdiag_mean(kernel(y, y, sigma))
        - 2.0 * float(kernel(x, y, sigma).mean())
    )


def kernels(samples: FloatArray, sigma: float) -> npt.NDArray[np.float64]:
    """:func:`kernel` of each sample against itself, for a stack of equal-size samples
    (``samples[i]`` is one sample): ``result[i] == kernel(samples[i], samples[i], sigma)``.

    The same numbers bit for bit: each slice is the same BLAS product as :func:`kernel`'s
    (two separate copies, as there, so BLAS takes the general product and not its symmetric
    shortcut), and the rest is elementwise.
    """
    left = samples.astype(np.float64)
    right = samples.astype(np.float64)
    return _rbf_of_products(np.matmul(left, right.transpose(0, 2, 1)), sigma)


def offdiag_means(matrices: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``_offdiag_mean`` of each square matrix of a stack, with the same sums in the same
    order: each matrix's total is a contiguous row of the flattened stack and each diagonal
    is made contiguous, so numpy sums both as it sums one matrix's."""
    count, n, _ = matrices.shape
    if n < 2:
        return np.zeros(count)
    totals = matrices.reshape(count, n * n).sum(axis=1)
    traces = np.ascontiguousarray(np.diagonal(matrices, axis1=1, axis2=2)).sum(axis=1)
    result: npt.NDArray[np.float64] = (totals - traces) / (n * (n - 1))
    return result


@dataclass
class Reference:
    """A fixed reference sample whose own kernel is computed once, for many subjects.

    ``matrix`` (the reference against itself) gives the reference's own term of every
    statistic, the reference block of each fleet's permutation test
    (:meth:`permutation_pvalue`) and the null table's draws (:meth:`NullTable.of`).
    """

    sample: FloatArray
    sigma: float
    matrix: npt.NDArray[np.float64] = field(init=False, repr=False)
    within: float = field(init=False)

    def __post_init__(self) -> None:
        self.matrix = kernel(self.sample, self.sample, self.sigma)
        self.within = _offdiag_mean(self.matrix)

    def affinity(self, vectors: FloatArray, chunk: int = 8_192) -> npt.NDArray[np.float64]:
        """Each row's mean kernel value against the reference, a chunk of rows at a time.

        Many subjects' statistics then need no kernel against the reference of their own:
        the cross term of :meth:`mmd2` is the mean of their rows' affinities.  A row that
        repeats (the same prompt in many accounts' samples: a 200k-exchange simulated log's
        frame held 76k rows but 16k distinct vectors) is computed once and copied.
        """
        first, where = _distinct_rows(vectors)
        values = np.zeros(len(first), dtype=np.float64)
        for start in range(0, len(first), chunk):
            values[start : start + chunk] = kernel(
                vectors[first[start : start + chunk]], self.sample, self.sigma
            ).mean(axis=1)
        out: npt.NDArray[np.float64] = values[where]
        return out

    def mmd2_with(self, x: FloatArray, affinity: npt.NDArray[np.float64]) -> float:
        """:meth:`mmd2` of ``x`` given its rows' :meth:`affinity` (the same value)."""
        if len(x) < 2:
            raise ValueError("MMD needs at least two rows in each sample")
        return _offdiag_mean(kernel(x, x, self.sigma)) + self.within - 2.0 * float(affinity.mean())

    def mmd2_many(
        self, samples: FloatArray, affinities: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """:meth:`mmd2_with` of each sample of a stack of equal-size samples (bit for bit):
        thousands of accounts of one sample size in a few array operations."""
        if samples.shape[1] < 2:
            raise ValueError("MMD needs at least two rows in each sample")
        within = offdiag_means(kernels(samples, self.sigma))
        result: npt.NDArray[np.float64] = within + self.within - 2.0 * affinities.mean(axis=1)
        return result

    def mmd2(self, x: FloatArray) -> float:
        """Unbiased ``MMD²`` of ``x`` against the reference (same value as :func:`mmd2`)."""
        if len(x) < 2:
            raise ValueError("MMD needs at least two rows in each sample")
        return (
            _offdiag_mean(kernel(x, x, self.sigma))
            + self.within
            - 2.0 * float(kernel(x, self.sample, self.sigma).mean())
        )

    def permutation_pvalue(
        self,
        x: FloatArray,
        *,
        permutations: int = 400,
        seed: int = 0,
        stop_above: float | None = None,
    ) -> tuple[float, float]:
        """:func:`permutation_pvalue` of ``x`` against the reference (the same values);
        ``stop_above``: stop early once the p-value must exceed it (:func:`_pvalue_of_pooled`).

        Of the pooled kernel only ``x``'s rows are computed and the bottom-left block is
        their transpose (the same products summed in the same order: every fleet's statistic
        and p-value of a 200k-exchange simulated log were bit-identical to the full pooled
        kernel's); the reference's own block, :attr:`matrix`, is most of a fleet's pooled
        kernel and was computed again for every fleet.
        """
        top = kernel(x, np.vstack([x, self.sample]), self.sigma)
        pooled = np.block([[top], [top[:, len(x) :].T, self.matrix]])
        return _pvalue_of_pooled(pooled, len(x), permutations, seed, stop_above)

    def permutation_pvalues(
        self,
        samples: Sequence[FloatArray],
        *,
        permutations: int = 400,
        seed: int = 0,
        stop_above: float | None = None,
        chunk_rows: int = 8_192,
    ) -> list[tuple[float, float]]:
        """:meth:`permutation_pvalue` of each sample (every fleet of a scan), in order.

        Every test draws its shuffles from the same seed, so samples of one size are shuffled
        identically: their splits are drawn once, and the reference's own share of each
        shuffled statistic (``z_rᵀ K_rr z_r``, most of the pooled kernel) is computed once
        for all of them.  Of each sample only its own rows of the pooled kernel are
        multiplied by the splits, ``n × (n + r)`` per shuffle instead of ``(n + r)²``, and
        the samples of one size (``chunk_rows`` rows at a time) share one matrix product.

        The observed statistics are the same numbers as :meth:`permutation_pvalue`'s, bit
        for bit (the same blocks with the same memory layout, summed the same way).  Each
        shuffled statistic is the same sum of kernel values taken in another order, so it
        can differ in the last bits (about 1e-16; statistics are compared with a 1e-12
        tolerance): a p-value could differ only for a shuffle whose statistic lies within
        that rounding of the tolerance's edge.  On a 1M-exchange log every one of its
        fleets' p-values was the same (no shuffle came nearer than 1e-6 to that edge).
        """
        results: list[tuple[float, float]] = [(0.0, 0.0)] * len(samples)
        by_size: dict[int, list[int]] = defaultdict(list)
        for index, sample in enumerate(samples):
            by_size[len(sample)].append(index)
        for n, indices in by_size.items():
            if n < 2:
                for index in indices:
                    results[index] = self.permutation_pvalue(
                        samples[index], permutations=permutations, seed=seed, stop_above=stop_above
                    )
                continue
            first = min(FIRST_SHUFFLES, permutations) if stop_above is not None else permutations
            widths = tuple(w for w in (first, permutations - first) if w)
            shuffles = _SharedShuffles(self, n, widths, np.random.default_rng(seed))
            step = max(1, chunk_rows // n)
            for start in range(0, len(indices), step):
                chunk = indices[start : start + step]
                tested = shuffles.pvalues([samples[i] for i in chunk], permutations, stop_above)
                for index, result in zip(chunk, tested, strict=True):
                    results[index] = result
        return results


@dataclass
class _SharedShuffles:
    """The shuffles of every sample of ``n`` rows pooled with one :class:`Reference`: the
    splits (drawn as one test of that size draws them) and what they share."""

    reference: Reference
    n: int
    widths: tuple[int, ...]
    """Shuffles per block: the first block may stop a test early (:func:`_pvalue_of_pooled`)."""
    rng: np.random.Generator
    blocks: list[
        tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]
    ] = field(default_factory=list)
    """Per block drawn so far: (splits, the splits with their reference rows doubled,
    ``z_rᵀ K_rr z_r`` of each split)."""
    within_reference: float = field(init=False)

    def __post_init__(self) -> None:
        size = len(self.reference.sample)
        # The reference's own term of the observed statistic, summed over the same memory
        # layout as the pooled matrix's bottom-right block (rows n + size apart), so that it
        # is the same number as in :func:`_mmd2_from_pooled`.
        layout = np.empty((size, self.n + size))
        layout[:, :size] = self.reference.matrix
        self.within_reference = _offdiag_mean(layout[:, :size])

    def block(
        self, index: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Block ``index`` (see :attr:`blocks`), drawn on first use (blocks in order, so the
        draws are those of one test)."""
        size = len(self.reference.sample)
        while len(self.blocks) <= index:
            masks = split_masks(self.rng, self.n + size, self.n, self.widths[len(self.blocks)])
            rest = masks[self.n :]
            quad = np.einsum("ij,ij->j", rest, self.reference.matrix @ rest)
            weighted = masks.copy()
            weighted[self.n :] *= 2.0
            self.blocks.append((masks, weighted, quad))
        return self.blocks[index]

    def pvalues(
        self, samples: list[FloatArray], permutations: int, stop_above: float | None
    ) -> list[tuple[float, float]]:
        """(``MMD²``, p-value) of each sample (all of ``n`` rows), as
        :meth:`Reference.permutation_pvalue` computes them (see
        :meth:`Reference.permutation_pvalues` for what is shared)."""
        reference, n = self.reference, self.n
        size = len(reference.sample)
        total = n + size
        tops = np.empty((len(samples), n, total))
        observed = np.empty(len(samples))
        for index, sample in enumerate(samples):
            top = kernel(sample, np.vstack([sample, reference.sample]), reference.sigma)
            tops[index] = top
            observed[index] = (
                _offdiag_mean(top[:, :n]) + self.within_reference - 2.0 * float(top[:, n:].mean())
            )
        # Row sums, total and diagonal of each pooled matrix [[top], [topᵀ, K_rr]].
        row_sums = np.concatenate(
            [tops.sum(axis=2), tops[:, :, n:].sum(axis=1) + reference.matrix.sum(axis=1)], axis=1
        )
        grand = row_sums.sum(axis=1)
        diagonal = np.concatenate(
            [
                np.diagonal(tops[:, :, :n], axis1=1, axis2=2),
                np.broadcast_to(np.diag(reference.matrix), (len(samples), size)),
            ],
            axis=1,
        )
        trace = diagonal.sum(axis=1)
        reached = np.ones(len(samples), dtype=np.int64)
        live = np.arange(len(samples))
        m = float(total - n)
        for index in range(len(self.widths)):
            if not len(live):
                break
            masks, weighted, reference_quad = self.block(index)
            own = tops if len(live) == len(samples) else tops[live]
            # zᵀKz = z_xᵀ (K_xx z_x + 2 K_xr z_r) + z_rᵀ K_rr z_r, as K_rx = K_xrᵀ: one
            # product of each sample's rows with the splits whose reference rows weigh 2.
            inner = (own.reshape(-1, total) @ weighted).reshape(len(live), n, -1)
            quad = np.einsum("fij,ij->fj", inner, masks[:n])
            quad += reference_quad
            cross = row_sums[live] @ masks - quad
            on_diagonal = diagonal[live] @ masks
            within_x = quad - on_diagonal
            within_y = grand[live, None] - 2.0 * cross - quad - (trace[live, None] - on_diagonal)
            statistics = within_x / (n * (n - 1)) + within_y / (m * (m - 1)) - 2.0 * cross / (n * m)
            reached[live] += (statistics >= observed[live, None] - 1e-12).sum(axis=1)
            if stop_above is not None:
                live = live[reached[live] / (permutations + 1) <= stop_above]
        return [
            (float(value), int(count) / (permutations + 1))
            for value, count in zip(observed, reached, strict=True)
        ]


ROWS_PER_PASS = 65_536
"""Rows :func:`_distinct_rows` hashes and checks at a time: its temporaries stay a few tens
of MB, where whole-array ones were two more copies of the vectors (at 16M exchanges a
semantic frame of 1.4 GB took DG-303's affinity step 1.9 GiB above the frame)."""


def _distinct_rows(
    vectors: FloatArray,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(the first row of each distinct value, each row's index among them); rows are
    compared bytewise, and ``vectors[first][where]`` is ``vectors``.

    Rows are grouped by a 64-bit hash of their bytes (sorting 8-byte keys, not whole rows,
    halved :meth:`Reference.affinity`'s time on a 1M-exchange log; its 373k rows held 21k
    distinct vectors), then every row is checked byte for byte
    against its group's first row; should two different rows share a hash, the rows are
    grouped by their bytes instead.  Which order the distinct rows come in does not matter
    to :meth:`Reference.affinity` (each row's value is computed alone).  Hashing and
    checking go :data:`ROWS_PER_PASS` rows at a time (integer sums modulo 2⁶⁴: the same
    hashes in any order).
    """
    if len(vectors) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    contiguous = np.ascontiguousarray(vectors)
    row_bytes = contiguous.dtype.itemsize * vectors.shape[1]
    if row_bytes % 8 == 0 and row_bytes // 8 <= len(_HASH_MULTIPLIERS):
        words = contiguous.view(np.uint64).reshape(len(contiguous), row_bytes // 8)
        multipliers = _HASH_MULTIPLIERS[: words.shape[1]]
        hashes = np.empty(len(words), dtype=np.uint64)
        for start in range(0, len(words), ROWS_PER_PASS):
            part = words[start : start + ROWS_PER_PASS]
            hashes[start : start + ROWS_PER_PASS] = (part * multipliers).sum(
                axis=1, dtype=np.uint64
            )
        hashes ^= hashes >> np.uint64(29)
        _, first, where = np.unique(hashes, return_index=True, return_inverse=True)
        where = where.ravel()
        if all(
            np.array_equal(
                words[start : start + ROWS_PER_PASS],
                words[first[where[start : start + ROWS_PER_PASS]]],
            )
            for start in range(0, len(words), ROWS_PER_PASS)
        ):
            return first, where
    records = contiguous.view(np.dtype((np.void, row_bytes)))
    _, first, where = np.unique(records.ravel(), return_index=True, return_inverse=True)
    return first, where.ravel()


_HASH_MULTIPLIERS = np.random.default_rng(20_260_303).integers(
    1, 2**63, size=512, dtype=np.uint64
) * np.uint64(2) + np.uint64(1)
"""Odd multipliers of a row hash (:func:`_distinct_rows`): rows of up to 4 kB."""


def _mmd2_from_pooled(matrix: npt.NDArray[np.float64], n: int) -> float:
    xx = matrix[:n, :n]
    yy = matrix[n:, n:]
    xy = matrix[:n, n:]
    return _offdiag_mean(xx) + _offdiag_mean(yy) - 2.0 * float(xy.mean())


def _mmd2_for_splits(
    matrix: npt.NDArray[np.float64], masks: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Unbiased ``MMD²`` for many splits of one pooled kernel matrix at once.

    ``masks`` has one column per split, 1 for the rows of the first sample; block sums are
    quadratic forms (``zᵀKz``), so no permuted copy of the matrix is made.
    """
    total = len(matrix)
    n = masks[:, 0].sum()
    m = total - n
    diagonal = np.diag(matrix)
    quad = np.einsum("ij,ij->j", masks, matrix @ masks)  # zᵀKz: the first sample's block
    cross = masks.T @ matrix.sum(axis=1) - quad  # zᵀK(1 − z)
    on_diagonal = masks.T @ diagonal
    within_x = quad - on_diagonal
    within_y = matrix.sum() - 2.0 * cross - quad - (diagonal.sum() - on_diagonal)
    result: npt.NDArray[np.float64] = (
        within_x / (n * (n - 1)) + within_y / (m * (m - 1)) - 2.0 * cross / (n * m)
    )
    return result


def split_masks(
    rng: np.random.Generator, total: int, n: int, width: int
) -> npt.NDArray[np.float64]:
    """``width`` random splits of ``total`` rows, one column each: 1 on the first ``n``
    entries of a ``rng.permutation(total)``, 0 elsewhere.

    ``rng.permuted`` of ``width`` stacked ``arange(total)`` shuffles row after row with the
    generator's own shuffle, so it draws exactly what ``width`` calls of
    ``rng.permutation(total)`` draw (the tests check it), in one call instead of ``width``.
    """
    shuffled = rng.permuted(np.tile(np.arange(total), (width, 1)), axis=1)
    masks = np.zeros((total, width))
    masks[shuffled[:, :n], np.arange(width)[:, None]] = 1.0
    return masks


def permutation_pvalue(
    x: FloatArray, y: FloatArray, sigma: float, *, permutations: int = 400, seed: int = 0
) -> tuple[float, float]:
    """(``MMD²``, permutation p-value) for ``x`` against ``y``; the p-value counts the
    observed statistic as one of the permutations, so it is never below
    ``1 / (permutations + 1)`` (400 permutations resolve p ≤ 0.003)."""
    pooled = np.vstack([x, y])
    return _pvalue_of_pooled(kernel(pooled, pooled, sigma), len(x), permutations, seed)


FIRST_SHUFFLES = 32
"""Shuffles evaluated before :func:`_pvalue_of_pooled` may stop early; the rest follow in
one matrix product (blocks of 32 throughout cost more than one product of all 400)."""


def _pvalue_of_pooled(
    matrix: npt.NDArray[np.float64],
    n: int,
    permutations: int,
    seed: int,
    stop_above: float | None = None,
) -> tuple[float, float]:
    """:func:`permutation_pvalue` given the pooled kernel, whose first ``n`` rows are ``x``.

    The shuffles are drawn in one fixed sequence.  With ``stop_above``, the first
    :data:`FIRST_SHUFFLES` are evaluated alone, and the test stops there when enough of
    them reached the observed statistic that the p-value must exceed ``stop_above``
    whatever the remaining ones give; the value returned is then the p-value counted so far
    (a lower bound, above ``stop_above``).  A test that is not stopped counts every shuffle.
    """
    observed = _mmd2_from_pooled(matrix, n)
    rng = np.random.default_rng(seed)
    first = min(FIRST_SHUFFLES, permutations) if stop_above is not None else permutations
    reached = 1
    for width in (first, permutations - first):
        if not width:
            continue
        masks = split_masks(rng, len(matrix), n, width)
        reached += int((_mmd2_for_splits(matrix, masks) >= observed - 1e-12).sum())
        if stop_above is not None and reached / (permutations + 1) > stop_above:
            break
    return observed, reached / (permutations + 1)


@dataclass
class NullTable:
    """Null distribution of ``MMD²(subject of n prompts, reference)`` per sample size.

    Under the null the subject's prompts are drawn from the same distribution as the
    reference; the table splits the reference ``draws`` times at random into a subject of
    size ``n`` and the rest, and keeps the upper quantile ``1 - alpha`` and the mean and
    spread of the statistic.  Sizes are rounded up to a power of two so a scan
    computes only a handful of rows.
    """

    reference: FloatArray
    sigma: float
    alpha: float = 0.003
    draws: int = 300
    seed: int = 0
    rows: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    _matrix: npt.NDArray[np.float64] | None = None

    @classmethod
    def of(cls, reference: Reference, *, alpha: float, draws: int, seed: int = 0) -> NullTable:
        """The table of a :class:`Reference`, reusing its kernel matrix."""
        return cls(reference.sample, reference.sigma, alpha, draws, seed, _matrix=reference.matrix)

    @staticmethod
    def bucket(n: int) -> int:
        """The tabulated size used for a subject of ``n`` prompts."""
        return int(2 ** int(np.ceil(np.log2(max(n, 2)))))

    def row(self, n: int) -> tuple[float, float, float]:
        """(mean, standard deviation, 1 − alpha quantile) of the null statistic at size n.

        Each draw takes ``n`` rows of the reference as the subject and compares them with
        the remaining rows, so subject and reference never share a prompt.
        """
        size = self.bucket(n)
        if size not in self.rows:
            rng = np.random.default_rng([self.seed, size])
            size_drawn = min(size, len(self.reference) // 2)
            if self._matrix is None:
                self._matrix = kernel(self.reference, self.reference, self.sigma)
            matrix = self._matrix
            masks = split_masks(rng, len(self.reference), size_drawn, self.draws)
            values = _mmd2_for_splits(matrix, masks)
            self.rows[size] = (
                float(values.mean()),
                float(values.std() + 1e-12),
                float(np.quantile(values, 1.0 - self.alpha)),
            )
        return self.rows[size]
