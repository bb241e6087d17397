"""How much a shared value says: IDF-like weight that falls as more accounts share it.

Two accounts sharing a card no one else uses are almost surely related; five thousand
accounts sharing a residential proxy pool, a university NAT, ``gmail.com`` or the default
SDK are not related through it.  The weight is ``log(N / n) / log(N / 2)`` for a value
shared by ``n`` of ``N`` accounts: 1 for a pair, 0 when everyone shares it, and never
rising as sharers are added.  ``N`` is floored at ``population_floor`` so that a small
store does not treat a card shared by ten of its thirty accounts as common.  Values shared
by more than ``max_group`` accounts weigh exactly 0 and are not expanded into pairs.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

POPULATION_FLOOR = 200


def rarity(sharers: int, population: int, max_group: int) -> float:
    """Weight in [0, 1] of a value shared by ``sharers`` accounts out of ``population``."""
    if sharers < 2 or sharers > max_group:
        return 0.0
    total = max(population, sharers, POPULATION_FLOOR)
    return max(0.0, math.log(total / sharers) / math.log(total / 2))


def rarity_array(
    sharers: npt.NDArray[np.int64], population: int, max_group: int
) -> npt.NDArray[np.float64]:
    """Vectorised :func:`rarity` (same values, element by element)."""
    n = sharers.astype(np.float64)
    total = np.maximum(np.maximum(float(max(population, POPULATION_FLOOR)), n), 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.log(total / np.maximum(n, 1.0)) / np.log(total / 2.0)
    w = np.clip(np.nan_to_num(w), 0.0, 1.0)
    w[(sharers < 2) | (sharers > max_group)] = 0.0
    return w
