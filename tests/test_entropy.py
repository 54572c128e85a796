import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitstream.container import FormatError
from bitstream.entropy import (
    PRECISION,
    FrequencyTable,
    code_lengths,
    decode_symbols,
    encode_symbols,
    pack_tables,
    unpack_tables,
)


@st.composite
def runs(draw):
    """A few (symbols, table) runs with random tables and symbols drawn from them."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        size = draw(st.integers(1, 40))
        offset = draw(st.integers(-1000, 1000))
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        p = rng.dirichlet(np.full(size, 0.3)) + 1e-12
        table = FrequencyTable.from_probabilities(offset, p)
        count = draw(st.integers(0, 300))
        symbols = offset + rng.choice(size, size=count, p=p / p.sum())
        out.append((symbols.astype(np.int32), table))
    return out


@settings(max_examples=60, deadline=None)
@given(runs())
def test_symbols_round_trip_exactly(streams):
    data = encode_symbols(streams)
    decoded = decode_symbols(data, [t for _, t in streams], [len(s) for s, _ in streams])
    for (symbols, _), back in zip(streams, decoded, strict=True):
        np.testing.assert_array_equal(back, symbols)


@settings(max_examples=30, deadline=None)
@given(runs())
def test_tables_round_trip(streams):
    tables = [t for _, t in streams]
    assert unpack_tables(pack_tables(tables)) == tables


def test_quantized_tables_sum_exactly_and_keep_every_symbol():
    table = FrequencyTable.from_probabilities(5, [1e-30, 0.5, 0.5, 0.0])
    assert int(table.frequencies.sum()) == 1 << PRECISION
    assert table.frequencies.min() >= 1
    assert table.symbols == range(5, 9)


def test_real_bytes_match_the_ideal_cost():
    rng = np.random.default_rng(1)
    p = np.exp(-np.abs(np.arange(-30, 31)) / 3)
    table = FrequencyTable.from_probabilities(-30, p)
    symbols = -30 + rng.choice(len(p), size=50_000, p=p / p.sum())
    real_bits = 8 * len(encode_symbols([(symbols, table)]))
    ideal = code_lengths([table], len(p), beyond=0.0)[0][symbols + 30].sum()
    assert real_bits == pytest.approx(ideal, rel=0.01)


def test_a_constant_run_costs_nothing():
    table = FrequencyTable.from_probabilities(7, [1.0])
    assert encode_symbols([(np.full(100_000, 7), table)]) == b""
    assert decode_symbols(b"", [table], [3])[0].tolist() == [7, 7, 7]


def test_symbols_outside_the_table_are_refused():
    table = FrequencyTable.from_probabilities(0, [0.5, 0.5])
    with pytest.raises(ValueError, match="outside"):
        encode_symbols([(np.array([0, 2]), table)])


def test_damaged_streams_raise_format_errors():
    table = FrequencyTable.from_probabilities(0, [0.5, 0.25, 0.25])
    data = encode_symbols([(np.arange(3).repeat(100), table)])
    with pytest.raises(FormatError, match="whole 32-bit words"):
        decode_symbols(data[:-1], [table], [300])
    with pytest.raises(FormatError, match="left over"):
        decode_symbols(data + data, [table], [300])
    with pytest.raises(FormatError, match="damaged"):
        decode_symbols(b"\x01\x00\x00\x00\x00\x00\x00\x00", [table], [10])


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "truncated"),
        (b"\x01\x00", "truncated"),
        (b"\x01\x00\x00", "0 entries"),
        (b"\x01\x00\x05\x01\x01", "5 entries"),  # more codes claimed than there are
        (b"\x02", "truncated"),
        (b"\x01\x00\x01\x80\x80\x04\x00", "unexpected bytes"),
        (b"\xff\xff\xff\xff\x7f", "frequency tables"),
        (b"\x01" + b"\xff" * 6 + b"\x01", "overlong"),
    ],
)
def test_bad_table_bytes(data, message):
    with pytest.raises(FormatError, match=message):
        unpack_tables(data)
