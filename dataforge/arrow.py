"""Arrow <-> polars glue that stays clear of Arrow's compute kernels.

Importing ``pyarrow.compute`` (which ``pl.from_arrow`` and ``pl.Series`` do for a bare
Arrow array, and every cast) costs 0.06 s of start-up; ``pa.array()``, ``fill_null`` and
``Array.to_numpy()`` import pandas, about 50 MB of memory and 0.3 s. The hot paths of
``convert`` and ``apply`` need none of them: these helpers read and relabel buffers with
numpy and go through Arrow tables instead.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa


def series(name: str, array: pa.Array) -> pl.Series:
    """An Arrow array as a polars Series (zero-copy; through a table, which does not
    import ``pyarrow.compute``)."""
    return pl.from_arrow(pa.Table.from_arrays([array], names=[name])).to_series()  # type: ignore[union-attr]


def int64_array(values: np.ndarray) -> pa.Array:
    """Integers from numpy as an Arrow int64 array, from the buffer (``pa.array`` would
    import pandas; polars' own numpy path imports ``numpy.ma``)."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def narrow(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """``arr`` as ``target``, where the two differ only in offset width (large -> standard
    strings and lists, inside structs too); anything else, or a sliced array, or offsets
    past 2^31, goes through Arrow's cast."""
    if arr.type == target:
        return arr
    t = arr.type
    if arr.offset == 0:
        if pa.types.is_large_string(t) and pa.types.is_string(target):
            offsets = _offsets32(arr)
            if offsets is not None:
                validity, _, data = arr.buffers()
                return pa.Array.from_buffers(target, len(arr), [validity, offsets, data], null_count=arr.null_count)
        elif pa.types.is_large_list(t) and pa.types.is_list(target):
            offsets = _offsets32(arr)
            if offsets is not None:
                child = narrow(arr.values, target.value_type)
                return pa.Array.from_buffers(target, len(arr), [arr.buffers()[0], offsets],
                                             null_count=arr.null_count, children=[child])
        elif pa.types.is_struct(t) and pa.types.is_struct(target) and t.num_fields == target.num_fields:
            children = [narrow(arr.field(i), target.field(i).type) for i in range(t.num_fields)]
            return pa.Array.from_buffers(target, len(arr), [arr.buffers()[0]], null_count=arr.null_count,
                                         children=children)
    return arr.cast(target)


def _offsets32(arr: pa.Array) -> pa.Buffer | None:
    """The 64-bit offsets of an unsliced large string/list array as 32-bit ones (None if
    they do not fit)."""
    buffer = arr.buffers()[1]
    if buffer is None:  # an empty array may come without offsets
        return pa.py_buffer(np.zeros(len(arr) + 1, np.int32))
    offsets = np.frombuffer(buffer, dtype=np.int64, count=len(arr) + 1)
    if offsets[-1] >= 2**31:
        return None
    return pa.py_buffer(offsets.astype(np.int32))


def valid(arr: pa.Array) -> np.ndarray:
    """Which slots of ``arr`` are not null, from its validity bitmap."""
    bitmap = arr.buffers()[0]
    if bitmap is None or arr.null_count == 0:
        return np.ones(len(arr), bool)
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    return bits[arr.offset : arr.offset + len(arr)].astype(bool)


def list_lengths(arr: pa.Array) -> np.ndarray:
    """Length of each list of a (large) list array, 0 for a null list, from the offsets
    buffer (``value_lengths().fill_null(0).to_numpy()`` would import pandas: ~50 MB)."""
    width = np.int64 if pa.types.is_large_list(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset : arr.offset + len(arr) + 1]
    lengths = np.diff(offsets).astype(np.int64)
    lengths[~valid(arr)] = 0
    return lengths
