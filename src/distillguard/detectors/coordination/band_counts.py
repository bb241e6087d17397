"""The LSH band view's rows, counted as a sparse product instead of a grouped unnest.

An account relies on a band key when the prompts carrying it make up at least
``lsh_min_share`` of its exchanges and ``template_min_count`` of them (views.lsh_band).
Counted relationally, every (account, prompt) row is unnested into its 16 band keys and
grouped by (account, band): on the simulator's 1M benchmark input 13.3M rows fell into
12.8M groups, of which 151k reached five uses; the hash table of that grouping took
most of the coordination stage, and at 16M exchanges it spilled past the disk.

The same counts are the product of two sparse matrices: the uses of each prompt by each
account (accounts × prompts) and the band keys of each prompt (prompts × bands).  Each
block of accounts is multiplied on its own and only the entries that pass the thresholds
are kept, so memory stays bounded by the block, not by the traffic.  The inputs are
fetched through Ibis (one narrow row per account and prompt, one per distinct prompt), so
every engine gives the same rows; ``views.lsh_band`` remains the relational definition
they are tested against.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.compute as pc
from scipy import sparse

from distillguard.engine.codes import dictionary_codes
from distillguard.engine.derived import account_prompt_uses

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from distillguard.detectors.coordination.config import CoordinationConfig

BLOCK_PRODUCTS = 20_000_000
"""Band incidences (account-prompt uses × bands of the prompt) multiplied per block."""


def lsh_band_rows(con: BaseBackend, cfg: CoordinationConfig) -> pd.DataFrame:
    """``(account_id, value)`` rows of the band view, as ``views.lsh_band`` defines them."""
    uses = con.to_pyarrow(account_prompt_uses(con))
    features = con.table("prompt_features")
    prompts = con.to_pyarrow(features.select("pair_id", "lsh_bands"))
    if not uses.num_rows or not prompts.num_rows:
        return pd.DataFrame({"account_id": pd.Series(dtype=object), "value": []})
    account_codes, dictionary = dictionary_codes(uses.column("account_id"))
    account_ids = [str(value) for value in dictionary.to_pylist()]
    pair_ids = np.asarray(prompts.column("pair_id"), dtype=np.int64)
    # Each use's row in ``prompts`` (pair ids are unique there), looked up in a hash table:
    # a binary search of 8.8M unsorted ids took 8 s at 16M exchanges.
    row_of_use = pd.Index(pair_ids).get_indexer(np.asarray(uses.column("pair_id"), np.int64))
    known = row_of_use >= 0
    counts = np.asarray(uses.column("uses"), dtype=np.int64)
    accounts, prompt_rows = account_codes[known], row_of_use[known].astype(np.int64)
    totals = np.bincount(account_codes, weights=counts, minlength=len(account_ids))
    band_lists = prompts.column("lsh_bands").combine_chunks()
    lengths = np.asarray(pc.fill_null(pc.list_value_length(band_lists), 0), dtype=np.int64)
    flat = np.asarray(pc.list_flatten(band_lists), dtype=np.int64)
    band_keys, band_codes = np.unique(flat, return_inverse=True)
    prompt_bands = sparse.csr_matrix(
        (np.ones(len(flat), dtype=np.int64), band_codes.reshape(-1), _offsets(lengths)),
        shape=(len(pair_ids), len(band_keys)),
    )
    account_uses = sparse.csr_matrix(
        (counts[known], (accounts, prompt_rows)), shape=(len(account_ids), len(pair_ids))
    )
    needed = _needed_uses(totals, cfg)
    kept_accounts: list[npt.NDArray[np.int64]] = []
    kept_bands: list[npt.NDArray[np.int64]] = []
    for start, stop in _blocks(account_uses, lengths):
        block = account_uses[start:stop] @ prompt_bands
        # Each entry against its own row's bar, read in row order off the CSR layout: a
        # gather of every entry's account total was most of this function's time (50M
        # entries at 4M exchanges).
        per_row = np.diff(block.indptr)
        passes = block.data >= np.repeat(needed[start:stop], per_row)
        positions = np.flatnonzero(passes)
        rows = np.searchsorted(block.indptr, positions, side="right") - 1
        kept_accounts.append(rows.astype(np.int64) + start)
        kept_bands.append(block.indices[positions].astype(np.int64))
    rows = np.concatenate(kept_accounts)
    bands = band_keys[np.concatenate(kept_bands)]
    return pd.DataFrame(
        {
            "account_id": np.asarray(account_ids, dtype=object)[rows],
            "value": [str(band) for band in bands.tolist()],
        }
    )


def _needed_uses(totals: npt.NDArray[Any], cfg: CoordinationConfig) -> npt.NDArray[np.int64]:
    """Per account: the fewest uses of a band key that pass both bars of the view, at least
    ``template_min_count`` and at least ``lsh_min_share`` of the account's exchanges.  In
    integers (the relational query compares decimals): ``uses >= total * p / q`` holds for
    a whole number of uses exactly when ``uses >= ceil(total * p / q)``."""
    share = Fraction(str(cfg.lsh_min_share))
    whole: npt.NDArray[np.int64] = np.rint(totals).astype(np.int64)
    by_share: npt.NDArray[np.int64] = -((-whole * share.numerator) // share.denominator)
    needed: npt.NDArray[np.int64] = np.maximum(by_share, cfg.template_min_count)
    return needed


def _offsets(lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _blocks(
    account_uses: sparse.csr_matrix, bands_per_prompt: npt.NDArray[np.int64]
) -> list[tuple[int, int]]:
    """Consecutive account ranges of about :data:`BLOCK_PRODUCTS` band incidences each."""
    accounts = account_uses.shape[0]
    owner = np.repeat(np.arange(accounts), np.diff(account_uses.indptr))
    per_entry = bands_per_prompt[account_uses.indices]
    per_account = np.bincount(owner, weights=per_entry, minlength=accounts).astype(np.int64)
    cumulative = np.cumsum(per_account)
    blocks: list[tuple[int, int]] = []
    start = 0
    while start < len(cumulative):
        done = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, done + BLOCK_PRODUCTS, side="right"))
        stop = max(stop, start + 1)
        blocks.append((start, min(stop, len(cumulative))))
        start = stop
    return blocks
