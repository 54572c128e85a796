import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitstream.container import FormatError
from bitstream.context import (
    BUCKETS,
    CLASS_TABLES,
    CLASS_THRESHOLDS,
    GROUPS,
    HEADS,
    LEVELS,
    CoefficientTables,
    class_far,
    class_tables,
    decode_coefficients,
    encode_coefficients,
    level_frames,
    remainder_tables_of,
    split_heads,
    spread,
)
from bitstream.entropy import FrequencyTable
from bitstream.integers import MAX_CLASS, bit_classes
from bitstream.trellis import (
    NEXT_STATE,
    QUANTIZER_OF_STATE,
    STATES,
    quantizer_bits,
    reconstruction_levels,
)
from codec.entropy_model import fit_tables


def random_tables(rng: np.random.Generator, channels: int) -> CoefficientTables:
    """A model with random maps and tables: any context the coder computes wrongly on one
    side would pick another table than on the other, and the round trip would fail."""
    rungs = int(rng.integers(1, 12))
    heads = [
        FrequencyTable.from_probabilities(0, rng.random(HEADS) ** 3 + 1e-3)
        for _ in range(2 * rungs)
    ]
    remainders = [
        FrequencyTable.from_probabilities(0, rng.random(int(rng.integers(1, MAX_CLASS))) + 0.01)
        for _ in range(int(rng.integers(1, CLASS_TABLES + 1)))
    ]
    return CoefficientTables(
        rng.integers(-2, rungs + 2, (channels, GROUPS)),
        rng.integers(-3, 4, (len(LEVELS), 2, BUCKETS)),
        heads,
        remainders,
    )


def fits(k: np.ndarray, model: CoefficientTables) -> bool:
    """Whether every remainder class of ``k`` lies inside the tables (the fitted models of
    the codec always cover what they code)."""
    size = bit_classes(split_heads(np.abs(k))[1])[0]
    return size.max(initial=0) < min(len(t.frequencies) for t in model.remainders)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 11),
    st.sampled_from([2, 4, 6, 16]),
    st.integers(0, 2**32 - 1),
)
def test_indices_round_trip_exactly(channels, frames, bins, seed):
    rng = np.random.default_rng(seed)
    model = random_tables(rng, channels)
    scale = rng.choice([0.1, 2.0, 30.0])
    k = np.round(rng.laplace(size=(channels, frames, bins)) * scale).astype(np.int64)
    big = 2 ** (min(len(t.frequencies) for t in model.remainders) - 1) * 2 + 2
    k = np.clip(k, -big, big)
    assert fits(k, model)
    data = encode_coefficients(k, model)
    np.testing.assert_array_equal(decode_coefficients(data, k.shape, model), k)


def test_large_indices_round_trip():
    rng = np.random.default_rng(1)
    k = rng.integers(-(1 << 22), 1 << 22, size=(2, 5, 8))
    model = CoefficientTables.flat(channels=2)
    data = encode_coefficients(k, model)
    np.testing.assert_array_equal(decode_coefficients(data, k.shape, model), k)


def test_trellis_states_and_levels():
    k = np.array([[[0, 1, 1, 2, -3, 0]]])
    # state 0 -(0, even)-> 0 -(1, odd)-> 6 -(1, odd)-> 7 -(2, even)-> 5 -(3, odd)-> 5 -> ...
    assert quantizer_bits(k).tolist() == [[[0, 0, 1, 1, 1, 1]]]  # Q1 in states 4 to 7
    assert reconstruction_levels(k).tolist() == [[[0, 2, 1, 3, -5, 0]]]
    # Q0 (states 0 to 3) gives even levels; Q1 (states 4 to 7) zero or odd levels
    rng = np.random.default_rng(0)
    k = rng.integers(-9, 10, size=(3, 4, 50))
    q1, levels = quantizer_bits(k) == 1, reconstruction_levels(k)
    assert np.all(levels[~q1] % 2 == 0)
    assert np.all((levels[q1] % 2 == 1) | (levels[q1] == 0))
    assert np.array_equal(np.sign(levels), np.sign(k))


def test_trellis_is_a_trellis():
    # two moves into every state, both from states of one quantizer, as out of every state
    assert NEXT_STATE.shape == (STATES, 2)
    assert np.bincount(NEXT_STATE.ravel(), minlength=STATES).tolist() == [2] * STATES
    for t in range(STATES):
        sources = np.argwhere(t == NEXT_STATE)[:, 0]
        assert len(set(QUANTIZER_OF_STATE[sources])) == 1


def test_levels_cover_every_frame_once():
    seen = np.zeros(13, dtype=int)
    for level in range(len(LEVELS)):
        seen[level_frames(13, level)] += 1
    assert np.all(seen == 1)


def test_heads_remainders_and_classes():
    magnitude = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 1000])
    head, remainder = split_heads(magnitude)
    assert head.tolist() == [0, 1, 2, 3, 4, 3, 4, 3, 4, 4]
    assert remainder.tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 2, 498]
    size, width, mantissa = bit_classes(remainder)
    assert size.tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 2, 9]
    assert width.tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 1, 8]
    assert mantissa.tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 0, 498 - 256]


def test_remainder_classes_pick_tables_by_their_neighbours():
    k = np.zeros((1, 5, 3), np.int64)
    k[0, 0] = [10, -20, 30]
    k[0, 4] = [0, 5, 0]
    spread_0, spread_4 = [40, 80, 80], [5, 10, 5]  # |k| at j-1, j, j+1 weighed 1, 2, 1
    far = [class_far(spread(k), level)[0].tolist() for level in range(len(LEVELS))]
    assert far[0] == [[0, 0, 0], [2 * x for x in spread_0]]  # frames 0, 4: the one before
    assert far[1] == [[a + b for a, b in zip(spread_0, spread_4, strict=True)]]  # frame 2
    assert far[2] == [spread_0, spread_4]  # frames 1 and 3, frame 2 being all zeros
    # half octaves of the sums, then two octaves of the rung, up to the last table
    assert class_tables(np.array([0, 3, 4, 120, 10**6]), np.zeros(5, np.int8), 32).tolist() == [
        0, 0, 1, 8, len(CLASS_THRESHOLDS)
    ]  # fmt: skip
    assert class_tables(np.array([4, 4, 4]), np.array([7, 8, 63], np.int8), 5).tolist() == [
        1, 2, 4
    ]  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 13), st.integers(1, 32), st.integers(0, 2**32 - 1))
def test_the_encoders_class_tables_are_the_decoders(frames, tables, seed):
    """The encoder picks every class's table in one compiled pass, the decoder a level (in
    level 0 a frame) at a time: the same tables."""
    rng = np.random.default_rng(seed)
    k = np.round(rng.laplace(size=(2, frames, 9)) * rng.choice([3.0, 300.0])).astype(np.int64)
    rung = rng.integers(0, 64, size=k.shape).astype(np.int8)
    chosen = remainder_tables_of(k, rung, tables)
    for level in range(len(LEVELS)):
        f = level_frames(frames, level)
        big = np.abs(k[:, f]) >= 3
        far = class_far(spread(k), level)[big]
        expected = class_tables(far, rung[:, f][big], tables)
        np.testing.assert_array_equal(chosen[:, f][big], expected)
        assert np.all(chosen[:, f][~big] == 0)


def test_remainder_classes_cost_less_where_the_neighbours_say_how_loud():
    """Loud and quiet passages in the same bins: the neighbouring frames tell them apart,
    which a class table per rung (capped contexts) cannot."""
    rng = np.random.default_rng(0)
    loudness = np.repeat(rng.choice([8.0, 400.0], size=32), 8)[None, :, None]
    k = np.round(rng.laplace(size=(1, 256, 64)) * loudness).astype(np.int64)
    fitted = fit_tables(k)
    assert len(fitted.remainders) > 4
    sizes = bit_classes(split_heads(np.abs(k))[1])[0]
    one = FrequencyTable.from_probabilities(0, np.bincount(sizes[np.abs(k) >= 3]))
    pooled = CoefficientTables(fitted.base, fitted.adjust, fitted.heads, [one])
    assert len(encode_coefficients(k, fitted)) < 0.97 * len(encode_coefficients(k, pooled))


def test_silence_costs_almost_nothing():
    k = np.zeros((8, 100, 512), dtype=np.int64)
    head = FrequencyTable.from_probabilities(0, [1.0, 0, 0, 0, 0])  # zero is all but certain
    model = CoefficientTables.flat(channels=8)
    model = CoefficientTables(model.base, model.adjust, [head, head], model.remainders)
    assert len(encode_coefficients(k, model)) <= 16  # 409,600 zeros


def test_damaged_and_mismatched_streams():
    rng = np.random.default_rng(0)
    k = np.round(rng.laplace(size=(2, 6, 16)) * 3).astype(np.int64)
    model = CoefficientTables.flat(channels=2)
    data = encode_coefficients(k, model)
    with pytest.raises(FormatError, match="left over"):
        decode_coefficients(data + b"\x01\x00\x00\x00", k.shape, model)
    with pytest.raises(FormatError, match="context maps"):
        decode_coefficients(data, (3, 6, 16), model)
    with pytest.raises(ValueError, match="below 2"):
        encode_coefficients(k + (1 << MAX_CLASS), model)


def test_models_that_do_not_fit_are_refused():
    flat = CoefficientTables.flat(channels=1)
    head = flat.heads[0]
    long = FrequencyTable.from_probabilities(0, np.ones(HEADS + 1))
    bad = [
        (flat.base, flat.adjust, [head], flat.remainders, "head tables"),
        (flat.base, flat.adjust, [long, long], flat.remainders, "symbols 0 to at most 4"),
        (flat.base, flat.adjust, [head, head], [], "remainder tables"),
        (flat.base[:, :3], flat.adjust, [head, head], flat.remainders, "context maps"),
    ]
    for base, adjust, heads, remainders, message in bad:
        with pytest.raises(FormatError, match=message):
            CoefficientTables(base, adjust, heads, remainders).check(1)
