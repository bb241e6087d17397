"""Integer codes for a column of strings: group and sort by integers instead of text.

Account ids, prompts and system prompts are grouped in numpy by their code into the
column's distinct values.  A chunked column (what DuckDB returns) is encoded chunk by
chunk against one dictionary Arrow shares across the chunks, so the column is never
combined into a second copy (at 16M exchanges that copy of the ids was a gigabyte).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc


def dictionary_codes(
    values: pa.Array | pa.ChunkedArray,
) -> tuple[npt.NDArray[np.int64], pa.Array]:
    """Each row's code into the distinct values, and those values in order of first
    appearance.  The column must hold no nulls."""
    if isinstance(values, pa.Array):
        values = pa.chunked_array([values])
    if values.null_count:
        raise ValueError("dictionary_codes: the column holds nulls")
    if not values.num_chunks:
        return np.zeros(0, dtype=np.int64), pa.array([], values.type)
    encoded = pc.dictionary_encode(values)
    codes = np.concatenate(
        [np.asarray(chunk.indices.cast(pa.int64()), dtype=np.int64) for chunk in encoded.chunks]
    )
    return codes, encoded.chunk(encoded.num_chunks - 1).dictionary
