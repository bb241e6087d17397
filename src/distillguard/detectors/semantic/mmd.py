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
    squared = np.clip(2.0 - 2.0 * (a.astype(np.float64) @ b.astype(np.float64).T), 0.0, None)
    result: npt.NDArray[np.float64] = np.exp(-squared / (2.0 * sigma * sigma))
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
        distinct, where = _distinct_rows(vectors)
        values = np.zeros(len(distinct), dtype=np.float64)
        for start in range(0, len(distinct), chunk):
            values[start : start + chunk] = kernel(
                distinct[start : start + chunk], self.sample, self.sigma
            ).mean(axis=1)
        out: npt.NDArray[np.float64] = values[where]
        return out

    def mmd2_with(self, x: FloatArray, affinity: npt.NDArray[np.float64]) -> float:
        """:meth:`mmd2` of ``x`` given its rows' :meth:`affinity` (the same value)."""
        if len(x) < 2:
            raise ValueError("MMD needs at least two rows in each sample")
        return _offdiag_mean(kernel(x, x, self.sigma)) + self.within - 2.0 * float(affinity.mean())

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


def _distinct_rows(vectors: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """(the distinct rows, each row's index among them); rows are compared bytewise."""
    if len(vectors) == 0:
        return vectors, np.zeros(0, np.intp)
    contiguous = np.ascontiguousarray(vectors)
    records = contiguous.view(np.dtype((np.void, contiguous.dtype.itemsize * vectors.shape[1])))
    _, first, where = np.unique(records.ravel(), return_index=True, return_inverse=True)
    return contiguous[first], where.ravel()


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
        masks = np.zeros((len(matrix), width))
        for column in range(width):
            masks[rng.permutation(len(matrix))[:n], column] = 1.0
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
            masks = np.zeros((len(self.reference), self.draws))
            for column in range(self.draws):
                masks[rng.permutation(len(self.reference))[:size_drawn], column] = 1.0
            values = _mmd2_for_splits(matrix, masks)
            self.rows[size] = (
                float(values.mean()),
                float(values.std() + 1e-12),
                float(np.quantile(values, 1.0 - self.alpha)),
            )
        return self.rows[size]
