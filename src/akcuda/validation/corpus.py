"""A corpus of high-level Awkward operations, run with and without akcuda installed.

Each operation runs on the same seeded random arrays twice: on Awkward's stock kernels and with
``awkward_plugin.install(target)``. The two results must be identical — the same ``ak.to_list``
(exact, type-strict, NaN-aware), the same type string, or the same exception type and message.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from akcuda import store
from akcuda.runtime import awkward_plugin, host_build
from akcuda.toolchain import specs
from akcuda.toolchain.generate import generate

DEFAULT_SEED = 2024
WORDS = ("", "a", "bc", "def", "ghij", "klmno", "pq", "r")


# ---------------------------------------------------------------- random arrays


def _values(rng: np.random.Generator, n: int, dtype: str, nan: bool = False) -> np.ndarray:
    """n random values of a dtype; small ranges so that ties, zeros and negatives all occur."""
    if dtype == "bool":
        return rng.random(n) < 0.5
    if dtype.startswith("float"):
        out = np.round(rng.normal(0, 4, n), 2).astype(dtype)
        if nan and n:
            out[rng.random(n) < 0.08] = np.nan
        return out
    low = 0 if dtype.startswith("uint") else -9
    return rng.integers(low, 10, n).astype(dtype)


def _counts(rng: np.random.Generator, n: int, max_len: int, min_len: int = 0) -> np.ndarray:
    return rng.integers(min_len, max_len + 1, n)


def _offsets(counts: np.ndarray) -> ak.index.Index64:
    return ak.index.Index64(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


def jagged(
    rng: np.random.Generator, n: int, dtype: str, max_len: int = 5, min_len: int = 0, nan: bool = False
) -> ak.contents.ListOffsetArray:
    """var * dtype, list lengths uniform in [min_len, max_len]."""
    counts = _counts(rng, n, max_len, min_len)
    content = ak.contents.NumpyArray(_values(rng, int(counts.sum()), dtype, nan))
    return ak.contents.ListOffsetArray(_offsets(counts), content)


def nested(rng: np.random.Generator, n: int, min_len: int = 0) -> ak.contents.ListOffsetArray:
    """var * var * int64 (both levels nonempty when min_len is 1)."""
    counts = _counts(rng, n, 3, min_len)
    inner = jagged(rng, int(counts.sum()), "int64", 4, min_len)
    return ak.contents.ListOffsetArray(_offsets(counts), inner)


def jagged_options(rng: np.random.Generator, n: int) -> ak.contents.ListOffsetArray:
    """var * ?int64: None inside the lists."""
    counts = _counts(rng, n, 5)
    values = ak.contents.NumpyArray(_values(rng, int(counts.sum()), "int64"))
    return ak.contents.ListOffsetArray(_offsets(counts), indexed_option(rng, values))


def list_array(
    rng: np.random.Generator, n: int, index: str, dtype: str = "float64", min_len: int = 0
) -> ak.contents.ListArray:
    """A ListArray whose lists sit in shuffled order in its content (starts not monotonic),
    with starts/stops of the given index type (int32, uint32, int64)."""
    counts = _counts(rng, n, 4, min_len)
    order = rng.permutation(n)
    starts = np.empty(n, dtype=np.int64)
    starts[order] = np.concatenate([[0], np.cumsum(counts[order])[:-1]]) if n else []
    stops = starts + counts
    content = ak.contents.NumpyArray(_values(rng, int(counts.sum()) + 3, dtype))
    index_type = {"int32": ak.index.Index32, "uint32": ak.index.IndexU32, "int64": ak.index.Index64}[index]
    return ak.contents.ListArray(index_type(starts.astype(index)), index_type(stops.astype(index)), content)


def indexed_option(
    rng: np.random.Generator, content: ak.contents.Content, p: float = 0.25, index: str = "int64"
) -> ak.contents.IndexedOptionArray:
    """Every element of content, shuffled, with about p of them None."""
    idx = rng.permutation(content.length).astype(index)
    idx[rng.random(content.length) < p] = -1
    index_type = ak.index.Index64 if index == "int64" else ak.index.Index32
    return ak.contents.IndexedOptionArray(index_type(idx), content)


def byte_masked(
    rng: np.random.Generator, content: ak.contents.Content, valid_when: bool = True
) -> ak.contents.ByteMaskedArray:
    valid = rng.random(content.length) < 0.75
    mask = (valid if valid_when else ~valid).astype(np.int8)
    return ak.contents.ByteMaskedArray(ak.index.Index8(mask), content, valid_when=valid_when)


def bit_masked(
    rng: np.random.Generator, content: ak.contents.Content, lsb_order: bool = True
) -> ak.contents.BitMaskedArray:
    valid = rng.random(content.length) < 0.75
    bits = np.packbits(valid, bitorder="little" if lsb_order else "big")
    return ak.contents.BitMaskedArray(
        ak.index.IndexU8(bits), content, valid_when=True, length=content.length, lsb_order=lsb_order
    )


def union(rng: np.random.Generator, n: int, index: str = "int64") -> ak.contents.UnionArray:
    """union[int64, var * float64], elements interleaved at random."""
    tags = (rng.random(n) < 0.5).astype(np.int8)
    ints = ak.contents.NumpyArray(_values(rng, int((tags == 0).sum()), "int64"))
    lists = jagged(rng, int((tags == 1).sum()), "float64", 3)
    idx = np.zeros(n, dtype=index)
    for t in (0, 1):
        idx[tags == t] = np.arange(int((tags == t).sum()))
    index_type = {"int32": ak.index.Index32, "uint32": ak.index.IndexU32, "int64": ak.index.Index64}[index]
    return ak.contents.UnionArray(ak.index.Index8(tags), index_type(idx), [ints, lists])


def union_of_lists(rng: np.random.Generator, n: int) -> ak.contents.UnionArray:
    """union[var * int64, var * string]: flattening it runs the UnionArray flatten kernels."""
    ints = ak.Array(jagged(rng, n, "int64", 3))
    words = ak.Array([[str(w) for w in rng.choice(WORDS, int(k))] for k in _counts(rng, n, 3)])
    mixed = ak.concatenate([ints, words], axis=0)
    return mixed[rng.permutation(len(mixed))].layout


def records(rng: np.random.Generator, n: int) -> ak.contents.RecordArray:
    """{x: var * float64, y: int32, z: ?int64}."""
    x = jagged(rng, n, "float64", 4)
    y = ak.contents.NumpyArray(_values(rng, n, "int32"))
    z = indexed_option(rng, ak.contents.NumpyArray(_values(rng, n, "int64")))
    return ak.contents.RecordArray([x, y, z], ["x", "y", "z"])


def strings(rng: np.random.Generator, n: int) -> ak.Array:
    return ak.Array([[str(w) for w in rng.choice(WORDS, int(k))] for k in _counts(rng, n, 4)])


class Arrays(dict):
    """The corpus inputs, by name; attribute access keeps the operations short."""

    def __getattr__(self, name: str) -> ak.Array:
        return self[name]


def make_arrays(seed: int = DEFAULT_SEED) -> Arrays:
    """Seeded random inputs: lists, options, records, unions, several dtypes."""
    rng = np.random.default_rng(seed)
    lay = {
        "jag_i64": jagged(rng, 120, "int64"),
        "jag_i32": jagged(rng, 120, "int32"),
        "jag_u8": jagged(rng, 120, "uint8"),
        "jag_f64": jagged(rng, 120, "float64", nan=True),
        "jag_f32": jagged(rng, 120, "float32"),
        "jag_bool": jagged(rng, 120, "bool"),
        "jag_full": jagged(rng, 120, "int64", 5, 1),
        "big_f64": jagged(rng, 1500, "float64", 6),  # several blocks of the emulated grid
        "la32": list_array(rng, 90, "int32"),
        "lau32": list_array(rng, 90, "uint32", "int64", 1),
        "la64": list_array(rng, 90, "int64", "int32"),
        "nested": nested(rng, 60),
        "nested_full": nested(rng, 50, min_len=1),
        "regular": ak.contents.RegularArray(ak.contents.NumpyArray(_values(rng, 180, "float64")), 3),
        "opt_outer": indexed_option(rng, jagged(rng, 100, "int64")),
        "opt_inner": jagged_options(rng, 100),
        "bytemasked": byte_masked(rng, jagged(rng, 100, "float64"), valid_when=False),
        "bitmasked": bit_masked(rng, jagged(rng, 100, "int32")),
        "bitmasked_msb": bit_masked(rng, ak.contents.NumpyArray(_values(rng, 77, "int64")), lsb_order=False),
        "unmasked": ak.contents.UnmaskedArray(jagged(rng, 80, "int64")),
        "records": records(rng, 80),
        "union": union(rng, 80),
        "union32": union(rng, 80, "int32"),
        "union_lists": union_of_lists(rng, 40),
        "flat_i64": ak.contents.NumpyArray(_values(rng, 60, "int64")),
        "flat_opt": indexed_option(rng, ak.contents.NumpyArray(_values(rng, 60, "float64")), index="int32"),
    }
    arrays = Arrays({name: ak.Array(layout) for name, layout in lay.items()})
    arrays["strings"] = strings(rng, 60)
    # shared prefixes, different lengths, non-ASCII letters (several bytes each), empty strings
    words = ["", "a", "ab", "abc", "ab c", "b", "é", "e", "ée", "日本", "日", "Ω", "zz", "ab"]
    arrays["words"] = ak.Array([[str(w) for w in rng.choice(words, int(k))] for k in _counts(rng, 50, 6)])
    chunks = [b"", b"a", b"a\x00", b"a\x00b", b"\xff", b"\x80a", b"ab"]
    arrays["bytes"] = ak.Array(
        [[chunks[int(j)] for j in rng.integers(0, len(chunks), int(k))] for k in _counts(rng, 40, 5)]
    )
    counts = ak.num(arrays.jag_full)
    arrays["jagged_index"] = ak.Array(
        [[int(j) for j in rng.integers(-int(c), int(c), rng.integers(0, 4))] for c in counts]
    )
    return arrays


# ---------------------------------------------------------------- the operations


@dataclass(frozen=True)
class Operation:
    name: str
    fn: Callable[[Arrays], Any]


OPERATIONS: list[Operation] = []


def _op(name: str, fn: Callable[[Arrays], Any]) -> None:
    OPERATIONS.append(Operation(name, fn))


def _slicing() -> None:
    _op("slice_range_axis1", lambda a: a.jag_i64[:, 1:3])
    _op("slice_range_negative_step", lambda a: a.jag_i32[:, ::-2])
    _op("slice_range_axis0_step", lambda a: a.jag_f64[3:100:3])
    _op("slice_int_axis1", lambda a: a.jag_full[:, 0])
    _op("slice_int_negative", lambda a: a.jag_full[:, -1])
    _op("slice_array_axis0", lambda a: a.jag_i64[[5, 1, 4, 1, 119]])
    _op("slice_array_advanced", lambda a: a.jag_full[[0, 1, 2, 3], [0, 0, -1, 0]])
    _op("slice_array_axis1", lambda a: a.regular[:, [2, 0, 2]])
    _op("slice_bool_axis0", lambda a: a.jag_u8[ak.num(a.jag_u8) > 2])
    _op("slice_jagged_bool", lambda a: a.jag_i64[a.jag_i64 > 0])
    _op("slice_jagged_int", lambda a: a.jag_full[a.jagged_index])
    _op("slice_jagged_missing", lambda a: a.jag_full[ak.mask(a.jagged_index, a.jagged_index >= 0)])
    _op("slice_missing_axis0", lambda a: a.jag_i64[ak.Array([3, None, 0, None, 7])])
    _op("slice_option_outer", lambda a: a.opt_outer[:, 1:])
    _op("slice_option_inner", lambda a: a.opt_inner[:, ::2])
    _op("slice_bytemasked", lambda a: a.bytemasked[:, :2])
    _op("slice_bitmasked", lambda a: a.bitmasked[:, -2:])
    _op("slice_unmasked", lambda a: a.unmasked[:, 1:])
    _op("slice_nested_range", lambda a: a.nested[:, :, :2])
    _op("slice_nested_int", lambda a: a.nested_full[:, 0, -1])
    _op("slice_ellipsis", lambda a: a.nested_full[..., 0])
    _op("slice_newaxis", lambda a: a.jag_i32[:, np.newaxis, 1:])
    _op("slice_listarray32", lambda a: a.la32[:, 1:])
    _op("slice_listarrayU32_int", lambda a: a.lau32[:, 0])
    _op("slice_listarray64_array", lambda a: a.la64[[2, 0, 2]])
    _op("slice_regular_int", lambda a: a.regular[:, 1])
    _op("slice_records_field", lambda a: a.records[["x", "z"]][:, "x", 1:])
    _op("slice_strings", lambda a: a.strings[:, 1:])
    _op("slice_union", lambda a: a.union[[0, 3, 5, 7, 9]])
    _op("error_int_out_of_range", lambda a: a.jag_i64[:, 4])
    _op("error_advanced_out_of_range", lambda a: a.jag_full[[0, 1], [7, 0]])
    _op("error_jagged_index_out_of_range", lambda a: a.jag_full[a.jagged_index + 3])
    _op("error_regular_out_of_range", lambda a: a.regular[:, 5])
    _op("error_listarray_out_of_range", lambda a: a.la32[:, 2])


def _structure() -> None:
    _op("num_listarray32_reversed", lambda a: ak.num(a.la32[::-1], axis=1))
    _op("num_nested_axis2", lambda a: ak.num(a.nested[::-1], axis=2))
    _op("num_option", lambda a: ak.num(a.opt_outer[::-1], axis=1))
    _op("num_union", lambda a: ak.num(a.union_lists, axis=1))
    _op("flatten_listarray", lambda a: ak.flatten(a.la64))
    _op("flatten_nested_axis2", lambda a: ak.flatten(a.nested, axis=2))
    _op("flatten_option", lambda a: ak.flatten(a.opt_outer))
    _op("flatten_union", lambda a: ak.flatten(a.union_lists, axis=1))
    _op("flatten_none", lambda a: ak.flatten(a.records.x[::-1], axis=None))
    _op("unflatten_missing_counts", lambda a: ak.unflatten(a.flat_i64, ak.Array([3, None, 2, 5, 10, 0, 40])))
    _op("unflatten_axis1", lambda a: ak.unflatten(a.la32, ak.flatten(ak.local_index(a.la32) * 0 + 1), axis=1))
    _op("to_packed", lambda a: ak.to_packed(a.opt_outer))
    _op("to_regular", lambda a: ak.to_regular(ak.pad_none(a.jag_i64, 3, clip=True)))
    _op("enforce_type", lambda a: ak.enforce_type(a.opt_inner, "var * ?float64"))
    _op("ravel_option", lambda a: ak.ravel(a.opt_inner))
    _op("combinations_2", lambda a: ak.combinations(a.jag_i64, 2))
    _op("combinations_3_replacement", lambda a: ak.combinations(a.la32, 3, replacement=True))
    _op("combinations_fields", lambda a: ak.combinations(a.jag_u8, 2, fields=["p", "q"]))
    _op("combinations_regular", lambda a: ak.combinations(a.regular, 2))
    _op("combinations_axis2", lambda a: ak.combinations(a.nested, 2, axis=2))
    _op("argcombinations_2", lambda a: ak.argcombinations(a.jag_f32, 2))
    _op("combinations_4", lambda a: ak.combinations(a.jag_i64, 4))
    _op("combinations_2_replacement_listarray64", lambda a: ak.combinations(a.la64, 2, replacement=True))
    _op("combinations_3_listarrayU32", lambda a: ak.combinations(a.lau32, 3))
    _op("combinations_4_replacement_regular", lambda a: ak.combinations(a.regular, 4, replacement=True))
    _op(
        "combinations_3_records_fields",
        lambda a: ak.combinations(ak.zip({"x": a.jag_i64, "y": a.jag_i64 + 1}), 3, fields=["a", "b", "c"]),
    )
    _op("argcombinations_3_replacement", lambda a: ak.argcombinations(a.la32, 3, replacement=True))
    _op("argcombinations_4_regular", lambda a: ak.argcombinations(a.regular, 4))
    _op(
        "argcombinations_2_replacement_fields",
        lambda a: ak.argcombinations(a.jag_u8, 2, replacement=True, fields=["p", "q"]),
    )
    _op("cartesian_axis1", lambda a: ak.cartesian([a.jag_i64[:80], a.la32[:80]]))
    _op("cartesian_nested", lambda a: ak.cartesian({"a": a.jag_i32[:60], "b": a.nested}, nested=True))
    _op("cartesian_axis0", lambda a: ak.cartesian([a.flat_i64[:6], a.jag_i64[:4]], axis=0))
    _op("argcartesian", lambda a: ak.argcartesian([a.jag_i64[:90], a.la64]))
    _op("local_index_axis1", lambda a: ak.local_index(a.la32, axis=1))
    _op("local_index_axis2", lambda a: ak.local_index(a.nested, axis=2))
    _op("local_index_regular", lambda a: ak.local_index(a.regular, axis=1))
    _op("pad_none_axis1", lambda a: ak.pad_none(a.jag_i64, 3))
    _op("pad_none_clip", lambda a: ak.pad_none(a.la32, 2, clip=True))
    _op("pad_none_axis0", lambda a: ak.pad_none(a.jag_f64, 130, axis=0))
    _op("pad_none_regular_clip", lambda a: ak.pad_none(a.regular, 5, clip=True))
    _op("pad_none_nested_axis2", lambda a: ak.pad_none(a.nested, 2, axis=2))
    _op("pad_none_option", lambda a: ak.pad_none(a.opt_outer, 4, clip=True))
    _op("fill_none_flat", lambda a: ak.fill_none(a.flat_opt, 0.5))
    _op("fill_none_inner", lambda a: ak.fill_none(a.opt_inner, -1))
    _op("fill_none_lists", lambda a: ak.fill_none(a.opt_outer, [], axis=0))
    _op("fill_none_bitmasked", lambda a: ak.fill_none(a.bitmasked_msb, 99))
    _op("drop_none_inner", lambda a: ak.drop_none(a.opt_inner))
    _op("drop_none_axis0", lambda a: ak.drop_none(a.bytemasked, axis=0))
    _op("is_none_bitmasked", lambda a: ak.is_none(a.bitmasked))
    _op("is_none_axis1", lambda a: ak.is_none(ak.pad_none(a.jag_i64, 3), axis=1))
    _op("is_none_union", lambda a: ak.is_none(a.union32))
    _op("mask_then_fill", lambda a: ak.fill_none(ak.mask(a.jag_i32, a.jag_i32 % 3 == 0), 0))
    _op("firsts_singletons", lambda a: ak.singletons(ak.firsts(a.jag_f32)))
    _op("concatenate_axis0", lambda a: ak.concatenate([a.jag_i64, a.la32, a.opt_outer]))
    _op("concatenate_axis1", lambda a: ak.concatenate([a.jag_i64[:90], a.la64], axis=1))
    _op("concatenate_union", lambda a: ak.concatenate([a.jag_i64[:5], a.strings[:5], a.records[:5]]))
    _op("where_jagged", lambda a: ak.where(a.jag_i64 > 0, a.jag_i64, -10 * a.jag_i64))
    _op("where_option", lambda a: ak.where(ak.is_none(a.opt_inner, axis=1), 0, a.opt_inner))
    _op("zip_broadcast", lambda a: ak.zip({"a": a.la32, "b": ak.num(a.la32)}))
    _op("zip_depth_limit", lambda a: ak.zip([a.jag_i64[:90], a.la32], depth_limit=1))
    _op("records_broadcast", lambda a: a.records.x + a.records.z)
    _op("records_carry", lambda a: a.records[[3, 1, 2, 79]])
    _op("unzip", lambda a: ak.unzip(ak.combinations(a.jag_f64, 2)))
    _op("union_is_none", lambda a: ak.is_none(a.union32[::-1]))
    _op("union_to_list", lambda a: a.union32[[0, 0, 7, 3]])
    _op("broadcast_arrays", lambda a: ak.broadcast_arrays(a.la32, 5))
    _op("values_astype", lambda a: ak.values_astype(a.opt_inner, np.float32))
    _op("strings_num", lambda a: ak.num(a.strings[::-1], axis=2))
    _op("strings_equal", lambda a: a.strings == "bc")
    _op("strings_pad_none", lambda a: ak.pad_none(a.strings, 2, axis=1))
    _op("sort", lambda a: ak.sort(a.jag_i64, ascending=False))
    _op("argsort", lambda a: ak.argsort(a.opt_inner))
    _op("error_broadcast_lengths", lambda a: a.la32[:50] + a.jag_i32[50:100])
    _op("error_jagged_bool_mismatch", lambda a: a.jag_i64[a.jag_i32 > 0])


def _sorting() -> None:
    """ak.sort and ak.argsort (every direction and stability, numbers, booleans, strings and
    bytes, axis -1 and 0) and Awkward's unique operations: the sort kernels' callers."""
    for name in ("jag_i64", "jag_u8", "jag_f64", "jag_f32", "jag_bool", "opt_inner", "strings", "words", "bytes"):
        _op(f"sort_{name}", lambda a, name=name: ak.sort(a[name]))
        _op(f"sort_{name}_descending", lambda a, name=name: ak.sort(a[name], ascending=False))
        _op(f"sort_{name}_unstable", lambda a, name=name: ak.sort(a[name], stable=False))
        _op(f"argsort_{name}", lambda a, name=name: ak.argsort(a[name]))
        _op(f"argsort_{name}_descending", lambda a, name=name: ak.argsort(a[name], ascending=False))
    # an unstable argsort may order equal keys either way: only distinct keys compare
    _op("argsort_big_f64_unstable", lambda a: ak.argsort(a.big_f64, ascending=False, stable=False))
    _op("sort_nested_axis0", lambda a: ak.sort(a.nested, axis=0))
    _op("argsort_nested_axis0", lambda a: ak.argsort(a.nested, axis=0, ascending=False))
    _op("sort_jag_f64_axis0", lambda a: ak.sort(a.jag_f64, axis=0))
    _op("sort_nested_axis1", lambda a: ak.sort(a.nested, axis=1))
    _op("argsort_words_axis0", lambda a: ak.argsort(a.words, axis=0))
    _op("argsort_flat_i64", lambda a: ak.argsort(a.flat_i64, ascending=False))
    for name in ("flat_i64", "jag_i64", "jag_f64", "jag_bool", "nested"):
        _op(f"unique_{name}", lambda a, name=name: ak.Array(ak._do.unique(a[name].layout)))
        _op(f"is_unique_{name}", lambda a, name=name: ak._do.is_unique(a[name].layout))
    # within each list: awkward_unique_ranges (not jag_f64: with NaN the stock CPU kernel, which
    # keeps a NaN twice, writes past its buffer and corrupts the heap)
    for name in ("jag_i64", "jag_u8", "jag_f32", "big_f64", "jag_bool"):
        _op(f"unique_{name}_axis1", lambda a, name=name: ak.Array(ak._do.unique(a[name].layout, axis=-1)))
        _op(f"is_unique_{name}_axis1", lambda a, name=name: ak._do.is_unique(a[name].layout, axis=-1))
    # strings and bytestrings, flat and in lists: a sort of the strings, then
    # awkward_NumpyArray_unique_strings (its in-place compaction of whole strings)
    for name in ("strings", "words", "bytes"):
        _op(f"unique_{name}", lambda a, name=name: ak.Array(ak._do.unique(a[name].layout, axis=-1)))
        _op(f"is_unique_{name}", lambda a, name=name: ak._do.is_unique(a[name].layout, axis=-1))


REDUCERS = (
    "sum",
    "prod",
    "min",
    "max",
    "argmin",
    "argmax",
    "count",
    "count_nonzero",
    "any",
    "all",
    "mean",
    "var",
    "std",
)
# Which input each reducer sees: every dtype and layout kind gets reduced somewhere.
REDUCER_INPUTS = {
    "sum": "jag_i32",
    "prod": "jag_f32",
    "min": "opt_inner",
    "max": "jag_f64",
    "argmin": "jag_u8",
    "argmax": "bytemasked",
    "count": "nested",
    "count_nonzero": "jag_bool",
    "any": "big_f64",
    "all": "jag_bool",
    "mean": "jag_i64",
    "var": "la32",
    "std": "bitmasked",
}
KEEPDIMS_INPUTS = ("nested", "la64", "opt_outer", "regular")


def _reducer(name: str, array: str, **kwargs: Any) -> Callable[[Arrays], Any]:
    return lambda a: getattr(ak, name)(a[array], **kwargs)


def _reductions() -> None:
    for k, name in enumerate(REDUCERS):
        for axis in (0, 1, -1):
            _op(f"{name}_axis{axis}", _reducer(name, REDUCER_INPUTS[name], axis=axis))
        keep = KEEPDIMS_INPUTS[k % len(KEEPDIMS_INPUTS)]
        _op(f"{name}_keepdims_{keep}", _reducer(name, keep, axis=-1, keepdims=True))
        _op(f"{name}_mask_identity", _reducer(name, "opt_outer", axis=1, mask_identity=True))
    _op("sum_axis2_nested", _reducer("sum", "nested", axis=2))
    _op("max_records_field", lambda a: ak.max(a.records.x, axis=1, mask_identity=False))
    _op("ptp", lambda a: ak.ptp(a.jag_f32, axis=1))
    _op("softmax", lambda a: ak.softmax(a.jag_f64, axis=1))
    _op("moment", lambda a: ak.moment(a.la32, 2, axis=1))
    _op("corr", lambda a: ak.corr(a.jag_f64, a.jag_f64 * 2 - 1, axis=1))
    _op("sum_axis_none", _reducer("sum", "opt_inner", axis=None))


_slicing()
_structure()
_reductions()
_sorting()


# ---------------------------------------------------------------- comparing results


def snapshot(value: Any) -> Any:
    """A plain-Python picture of a result, exact enough to compare runs."""
    if isinstance(value, (ak.Array, ak.Record)):
        return ("array", str(value.type), ak.to_list(value))
    if isinstance(value, (tuple, list)):
        return ("sequence", [snapshot(v) for v in value])
    if isinstance(value, np.generic):
        return ("scalar", str(value.dtype), value.item())
    if isinstance(value, np.ndarray):
        return ("ndarray", str(value.dtype), value.shape, value.tolist())
    if hasattr(value, "__cuda_array_interface__") and hasattr(value, "get"):
        # a CuPy array: a reducer over axis=None gives a 0-d one where NumPy gives a scalar
        host = value.get()
        return snapshot(host[()] if host.ndim == 0 else host)
    return ("python", type(value).__name__, value)


def same(a: Any, b: Any) -> bool:
    """Exact, type-strict equality (1 != 1.0 != True); NaN equals NaN, -0.0 differs from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def evaluate(op: Operation, arrays: Arrays, finish: Callable[[], None] | None = None) -> tuple:
    """("ok", snapshot) or ("error", exception type, message); ``finish`` runs after the result
    is read (the cuda target uses it to surface Awkward's deferred GPU kernel errors)."""
    try:
        result = snapshot(op.fn(arrays))
        if finish is not None:
            finish()
        return ("ok", result)
    except Exception as exc:  # an error is a result too: both runs must raise the same one
        return ("error", type(exc).__name__, str(exc))


def _difference(stock: tuple, ours: tuple) -> str:
    def short(outcome: tuple) -> str:
        return (f"{outcome[1]}: {outcome[2]}" if outcome[0] == "error" else repr(outcome[1]))[:300]

    return f"stock gave {short(stock)}; akcuda gave {short(ours)}"


# ---------------------------------------------------------------- running


def _stale(kernels: store.Store) -> bool:
    """Is any kernel missing, or not what its spec and this translator would make?"""
    try:
        for kernel in kernels.kernels():
            kernels.plan(kernel)
    except store.StoreError:
        return True
    return False


def prepare(target: str = "host") -> None:
    """Make sure the store's kernels can run (in a checkout, ``akcuda generate`` first when one
    is missing or stale) and, for the host target, build their libraries in parallel now rather
    than one by one mid-corpus."""
    kernels = store.current()
    if kernels.origin == "checkout" and _stale(kernels):
        failed = {k: v for k, v in generate().items() if v}
        if failed:
            raise RuntimeError(f"akcuda generate failed for {', '.join(sorted(failed))}")
    kernels.check()
    if target == "host":
        shared = awkward_plugin.shared_target("host")
        host_build.build_all([shared.generated / f"{k}.cu" for k in kernels.kernels()], shared.out_dir, shared.extra)


def _to_target(arrays: Arrays, target: str) -> Arrays:
    if target == "host":
        return arrays
    return Arrays({k: ak.to_backend(v, "cuda") for k, v in arrays.items()})


def run_operation(op: Operation, arrays: Arrays, target: str = "host", pending: frozenset[str] = frozenset()) -> dict:
    """One operation on stock Awkward and with akcuda installed, compared.

    For target "cuda" the stock run stays on the CPU backend: the C kernels are the reference
    (Awkward's own CUDA kernels report errors later and with other texts). `pending`: the
    kernels whose spec is pending; an operation falling back to one of them needs it.
    """
    stock = evaluate(op, arrays)
    device = _to_target(arrays, target)
    with awkward_plugin.installed(target), awkward_plugin.trace() as recorder:
        ours = evaluate(op, device, awkward_plugin.synchronize_cuda_backend if target == "cuda" else None)
    identical = stock[0] == ours[0] and same(stock, ours)
    return {
        "name": op.name,
        "identical": identical,
        "via_akcuda": recorder.all_akcuda,
        "kernels": recorder.kernels,
        "calls": len(recorder.calls),
        "fallbacks": sorted({c.kernel for c in recorder.fallbacks}),
        "needs_pending": any(c.kernel in pending for c in recorder.fallbacks),
        "error": f"{stock[1]}: {stock[2]}" if stock[0] == "error" else None,
        "difference": None if identical else _difference(stock, ours),
    }


def select(names: list[str] | None = None) -> list[Operation]:
    """The operations named (all when None); an unknown name is an error."""
    if names is None:
        return list(OPERATIONS)
    known = {op.name: op for op in OPERATIONS}
    missing = [n for n in names if n not in known]
    if missing:
        raise KeyError(f"unknown corpus operation(s): {', '.join(missing)}")
    return [known[n] for n in names]


def run_corpus(target: str = "host", seed: int = DEFAULT_SEED, names: list[str] | None = None) -> dict:
    """Every (or each named) operation with and without akcuda; a summary and one entry each."""
    prepare(target)
    arrays = make_arrays(seed)
    start = time.perf_counter()
    pending = frozenset(k for k, s in specs.load_all().items() if s["status"] == "pending")
    results = [run_operation(op, arrays, target, pending) for op in select(names)]
    fallbacks = sorted({k for r in results for k in r["fallbacks"]})
    return {
        "summary": {
            "target": target,
            "seed": seed,
            "operations": len(results),
            "identical": sum(r["identical"] for r in results),
            "different": sum(not r["identical"] for r in results),
            "via_akcuda": sum(r["via_akcuda"] for r in results),
            "needs_pending": sum(r["needs_pending"] for r in results),
            "kernel_calls": sum(r["calls"] for r in results),
            "kernels": len({k for r in results for k in r["kernels"]}),
            "fallback_kernels": fallbacks,
            "seconds": round(time.perf_counter() - start, 2),
        },
        "operations": results,
    }
