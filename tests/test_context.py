import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitstream.container import FormatError
from bitstream.context import (
    BUCKETS,
    GROUPS,
    MAX_CLASS,
    PASSES,
    decode_coefficients,
    encode_coefficients,
    pass_positions,
    split_classes,
)
from bitstream.entropy import FrequencyTable


def laplace_tables(count: int) -> list[FrequencyTable]:
    classes = np.arange(-MAX_CLASS, MAX_CLASS + 1)
    return [
        FrequencyTable.from_probabilities(-MAX_CLASS, np.exp(-np.abs(classes) / (0.3 + k)))
        for k in range(count)
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 9),
    st.sampled_from([2, 4, 16]),
    st.integers(0, 2**32 - 1),
)
def test_coefficients_round_trip_exactly(channels, frames, bins, seed):
    rng = np.random.default_rng(seed)
    scale = rng.choice([0.1, 2.0, 500.0])
    q = np.round(rng.laplace(size=(channels, frames, bins)) * scale).astype(np.int64)
    base = rng.integers(-3, 6, (channels, GROUPS))
    adjust = rng.integers(-3, 3, (PASSES, BUCKETS))
    tables = laplace_tables(int(rng.integers(1, 6)))
    data = encode_coefficients(q, base, adjust, tables)
    np.testing.assert_array_equal(decode_coefficients(data, q.shape, base, adjust, tables), q)


def test_passes_cover_every_coefficient_once():
    seen = np.zeros((11, 8), dtype=int)
    for p in range(PASSES):
        f, j = pass_positions(11, 8, p)
        seen[f, j] += 1
    assert np.all(seen == 1)


def test_classes_and_mantissas():
    q = np.array([0, 1, -1, 2, 3, -4, 7, 8, 1000])
    classes, bits, mantissa = split_classes(q)
    assert classes.tolist() == [0, 1, -1, 2, 2, -3, 3, 4, 10]
    assert bits.tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 9]
    assert mantissa.tolist() == [0, 0, 0, 0, 1, 0, 3, 0, 1000 - 512]


def test_silence_costs_almost_nothing():
    q = np.zeros((8, 100, 512), dtype=np.int64)
    tables = [FrequencyTable.from_probabilities(0, [1.0])]
    base, adjust = np.zeros((8, GROUPS), int), np.zeros((PASSES, BUCKETS), int)
    assert encode_coefficients(q, base, adjust, tables) == b""


def test_damaged_and_mismatched_streams():
    rng = np.random.default_rng(0)
    q = np.round(rng.laplace(size=(2, 6, 16)) * 3).astype(np.int64)
    base, adjust = np.zeros((2, GROUPS), int), np.zeros((PASSES, BUCKETS), int)
    tables = laplace_tables(1)
    data = encode_coefficients(q, base, adjust, tables)
    with pytest.raises(FormatError, match="left over"):
        decode_coefficients(data + b"\x01\x00\x00\x00", q.shape, base, adjust, tables)
    with pytest.raises(FormatError, match="context maps"):
        decode_coefficients(data, (3, 6, 16), base, adjust, tables)
    with pytest.raises(FormatError, match="no coefficient tables"):
        decode_coefficients(data, q.shape, base, adjust, [])
    with pytest.raises(ValueError, match="below 2"):
        encode_coefficients(q + (1 << MAX_CLASS), base, adjust, tables)
