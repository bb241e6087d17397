"""A seeded scalar random source with the few NumPy-style calls the account builder uses.

Building hundreds of thousands of accounts makes millions of single draws; NumPy's
Generator costs about a microsecond of overhead per scalar call, Python's Mersenne Twister
a tenth of that.  Vector draws still go through NumPy.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np


class FastRandom(random.Random):
    """`random.Random` plus `integers`, `choice(size=, replace=, p=)`, `exponential`,
    `lognormal` and `permutation` with NumPy's meaning."""

    def integers(self, low: int, high: int | None = None, size: int | None = None) -> Any:
        """Integers in [low, high) (or [0, low)), one or an array of ``size``."""
        if high is None:
            low, high = 0, low
        if size is None:
            return self.randrange(low, high)
        return np.array([self.randrange(low, high) for _ in range(size)], dtype=np.int64)

    def choice(  # type: ignore[override]
        self,
        options: Sequence[Any] | int,
        size: int | None = None,
        replace: bool = True,
        p: Sequence[float] | np.ndarray | None = None,
    ) -> Any:
        """One element (or ``size`` elements) of ``options``, or of range(options) for an int."""
        population = range(options) if isinstance(options, int) else options
        if size is None:
            if p is None:
                return population[self.randrange(len(population))]
            return self.choices(population, weights=list(p))[0]
        if not replace:
            return np.array(self.sample(population, size))
        return np.array(self.choices(population, weights=None if p is None else list(p), k=size))

    def exponential(self, scale: float = 1.0) -> float:
        """Exponential draw with mean ``scale``."""
        return self.expovariate(1.0 / scale)

    def lognormal(self, mean: float, sigma: float, size: int) -> np.ndarray:
        """``size`` lognormal draws."""
        return np.array([self.lognormvariate(mean, sigma) for _ in range(size)])

    def permutation(self, n: int) -> np.ndarray:
        """A shuffled range(n)."""
        order = list(range(n))
        self.shuffle(order)
        return np.array(order, dtype=np.int64)
