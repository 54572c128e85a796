"""Integer frequency tables, and symbols coded with them by ``constriction``'s ANS coder.

A :class:`FrequencyTable` is the frozen form of an entropy model: the integer
frequencies of a run of consecutive symbols, summing to ``2**PRECISION``. The encoder
writes the tables into the file and the decoder reads them back, so both code with the
very same integers and decoding is exact on any machine.

>>> table = FrequencyTable.from_probabilities(-1, [0.25, 0.5, 0.25])
>>> table.frequencies.tolist(), table.symbols
([16384, 32768, 16384], range(-1, 2))
>>> data = encode_symbols([(np.array([0, 0, -1, 1, 0]), table)])
>>> decode_symbols(data, [table], [5])[0].tolist()
[0, 0, -1, 1, 0]
>>> unpack_tables(pack_tables([table])) == [table]
True

A :class:`TableSet` codes a run whose symbols each pick their own table, in one call:

>>> tables = TableSet([FrequencyTable.from_probabilities(0, p) for p in ([9, 1], [1, 9])])
>>> data = encode_symbols([(np.array([0, 1, 1]), tables.choose([0, 1, 1]))])
>>> SymbolReader(data).read(tables.choose([0, 1, 1]), 3).tolist()
[0, 1, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import constriction
import numpy as np

from bitstream.container import FormatError
from bitstream.integers import runs_of

PRECISION = 16
MAX_TABLE_SIZE = 1 << 16
MAX_OFFSET = 1 << 30  # symbols stay well inside int32
MAX_RAW_BITS = 24  # constriction's uniform model spans at most 2**24 symbols
CHUNK = 1 << 16  # symbols coded with per-symbol tables at a time


# a stored probability's weight is 2^(code / 16), code 0 to 255: these are 2^(r / 16) x 2^14,
# r = 0 to 15, rounded, written out so that no machine's pow can move them
_MANTISSAS = np.array([16384, 17109, 17867, 18658, 19484, 20347, 21247, 22188, 23170, 24196,
                       25268, 26386, 27554, 28774, 30048, 31379], dtype=np.int64)  # fmt: skip
CODE_STEPS = 16  # a stored probability is rounded to a sixteenth of an octave


@dataclass(frozen=True, eq=False)
class FrequencyTable:
    """Integer frequencies of the symbols ``offset, offset + 1, ...``; each at least 1.

    A table that goes into a file is made from one byte per symbol, its *code*, the log
    of its probability in sixteenths of an octave (:meth:`from_codes`): a 2 % error in a
    probability costs about 0.0004 bits a symbol, and the table takes half the bytes
    its 16-bit frequencies would (measured: 46 %)."""

    offset: int
    frequencies: np.ndarray
    codes: np.ndarray | None = None  # what the file holds, where the table can be stored

    def __post_init__(self) -> None:
        f = self.frequencies
        if f.ndim != 1 or not 1 <= len(f) <= MAX_TABLE_SIZE:
            raise FormatError(f"frequency table of {f.shape} entries (1 to {MAX_TABLE_SIZE})")
        if f.min() < 1 or int(f.sum()) != 1 << PRECISION:
            raise FormatError(f"frequency table does not sum to 2**{PRECISION} with entries >= 1")

    @classmethod
    def from_codes(cls, offset: int, codes: Sequence[int]) -> FrequencyTable:
        """The table whose symbols weigh ``2 ** (code / 16)``, normalized in integers.

        >>> FrequencyTable.from_codes(0, [240, 224, 224]).frequencies.tolist()
        [32768, 16384, 16384]
        """
        codes = np.asarray(codes, dtype=np.uint8)
        if not 1 <= len(codes) <= MAX_TABLE_SIZE:
            raise FormatError(f"frequency table of {len(codes)} entries (1 to {MAX_TABLE_SIZE})")
        c = codes.astype(np.int64)
        weights = (_MANTISSAS[c % CODE_STEPS] << (c // CODE_STEPS)) >> 14  # 1 to 62,757
        spare = (1 << PRECISION) - len(codes)
        frequencies = 1 + weights * spare // int(weights.sum())
        # the rounding remainder goes to the most probable symbol, which it costs least
        frequencies[np.argmax(weights)] += (1 << PRECISION) - int(frequencies.sum())
        return cls(int(offset), frequencies.astype(np.uint32), codes)

    @classmethod
    def from_probabilities(cls, offset: int, probabilities: Sequence[float]) -> FrequencyTable:
        """Quantize ``probabilities`` (any non-negative weights) to codes, and those to
        frequencies (:meth:`from_codes`). Runs on the encoder only; the decoder never sees
        the floats."""
        p = np.asarray(probabilities, dtype=np.float64)
        if p.ndim != 1 or not np.all(np.isfinite(p)) or p.min() < 0 or p.sum() <= 0:
            raise ValueError("probabilities must be finite, non-negative and not all zero")
        if len(p) > MAX_TABLE_SIZE:
            raise ValueError(f"{len(p)} symbols do not fit a table of precision {PRECISION}")
        with np.errstate(divide="ignore"):
            logs = CODE_STEPS * np.log2(p / p.sum() * (1 << PRECISION))
        return cls.from_codes(offset, np.clip(np.round(logs), 0, 255))

    @property
    def symbols(self) -> range:
        return range(self.offset, self.offset + len(self.frequencies))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, FrequencyTable)
            and self.offset == other.offset
            and np.array_equal(self.frequencies, other.frequencies)
        )

    def _check(self, symbols: np.ndarray) -> None:
        if symbols.min() < self.offset or symbols.max() >= self.symbols.stop:
            raise ValueError(f"symbols outside the table's range {self.symbols}")

    def _trivial(self) -> bool:
        return len(self.frequencies) == 1

    def _coder_model(self) -> tuple:
        # frequencies / 2**PRECISION is exact in float64, and constriction's own
        # quantization of it is deterministic, so both sides build the same model.
        probabilities = self.frequencies.astype(np.float64) / (1 << PRECISION)
        return (constriction.stream.model.Categorical(probabilities, perfect=False),)

    def _encode(self, coder, symbols: np.ndarray) -> None:
        coder.encode_reverse((symbols - self.offset).astype(np.int32), *self._coder_model())

    def _decode(self, coder, count: int) -> np.ndarray:
        return coder.decode(*self._coder_model(), count)


def code_lengths(tables: Sequence[FrequencyTable], width: int, beyond: float) -> np.ndarray:
    """(tables, width): the ideal code length in bits of the symbols ``offset`` to
    ``offset + width - 1`` under each table; ``beyond`` for symbols past a table's end.

    >>> code_lengths([FrequencyTable.from_probabilities(0, [0.5, 0.25, 0.25])], 4, 99.0)
    array([[ 1.,  2.,  2., 99.]])
    """
    bits = np.full((len(tables), width), beyond, dtype=np.float64)
    for row, table in zip(bits, tables, strict=True):
        size = min(len(table.frequencies), width)
        row[:size] = PRECISION - np.log2(table.frequencies[:size])
    return bits


class RawBits:
    """A run of ``bits``-bit unsigned integers, each equally likely: costs ``bits`` per symbol."""

    def __init__(self, bits: int) -> None:
        if not 0 <= bits <= MAX_RAW_BITS:
            raise ValueError(f"raw runs take 0 to {MAX_RAW_BITS} bits, not {bits}")
        self.bits = bits
        self.offset = 0
        self.symbols = range(1 << bits)

    def _check(self, symbols: np.ndarray) -> None:
        if symbols.min() < 0 or symbols.max() >= 1 << self.bits:
            raise ValueError(f"symbols outside {self.symbols}")

    def _trivial(self) -> bool:
        return self.bits == 0

    def _coder_model(self) -> tuple:
        return (constriction.stream.model.Uniform(1 << self.bits),)

    def _encode(self, coder, symbols: np.ndarray) -> None:
        coder.encode_reverse((symbols - self.offset).astype(np.int32), *self._coder_model())

    def _decode(self, coder, count: int) -> np.ndarray:
        return coder.decode(*self._coder_model(), count)


class TableSet:
    """Frequency tables over symbols from 0, one of which each symbol picks by an index
    (:meth:`choose`): symbols with many different tables are coded in one call."""

    def __init__(self, tables: Sequence[FrequencyTable]) -> None:
        if not tables or any(t.offset != 0 for t in tables):
            raise ValueError("a table set needs tables, each over symbols from 0")
        self.sizes = np.array([len(t.frequencies) for t in tables])
        # exact in float64; symbols beyond a shorter table get constriction's least
        # probability, the same on both sides (and constriction needs two symbols at least)
        self.probabilities = np.zeros((len(tables), max(self.sizes.max(), 2)))
        for row, table in zip(self.probabilities, tables, strict=True):
            row[: len(table.frequencies)] = table.frequencies / (1 << PRECISION)

    def choose(self, indices: np.ndarray) -> ChosenTables:
        """Symbol i of a run is coded with table ``indices[i]``."""
        return ChosenTables(self, np.asarray(indices).ravel())


class ChosenTables:
    """A run's table per symbol, from a :class:`TableSet`."""

    offset = 0
    _family = constriction.stream.model.Categorical(perfect=False)

    def __init__(self, table_set: TableSet, indices: np.ndarray) -> None:
        self.table_set, self.indices = table_set, indices

    def _check(self, symbols: np.ndarray) -> None:
        if len(symbols) != len(self.indices):
            raise ValueError(f"{len(symbols)} symbols for {len(self.indices)} table choices")
        if symbols.min() < 0 or np.any(symbols >= self.table_set.sizes[self.indices]):
            raise ValueError("symbols outside their tables' ranges")

    def _trivial(self) -> bool:
        return False

    def _chunks(self) -> list[slice]:
        # each chunk's probabilities are a float64 row per symbol: chunks bound the memory
        return [slice(start, start + CHUNK) for start in range(0, len(self.indices), CHUNK)]

    def _encode(self, coder, symbols: np.ndarray) -> None:
        for chunk in reversed(self._chunks()):  # a stack: the last chunk first
            probabilities = self.table_set.probabilities[self.indices[chunk]]
            coder.encode_reverse(symbols[chunk].astype(np.int32), self._family, probabilities)

    def _decode(self, coder, count: int) -> np.ndarray:
        if count != len(self.indices):
            raise ValueError(f"{count} symbols for {len(self.indices)} table choices")
        return np.concatenate([
            coder.decode(self._family, self.table_set.probabilities[self.indices[chunk]])
            for chunk in self._chunks()
        ])  # fmt: skip


Model = FrequencyTable | RawBits | ChosenTables


def encode_symbols(streams: Sequence[tuple[np.ndarray, Model]]) -> bytes:
    """Code each run of symbols with its table, in order; a one-symbol table costs nothing."""
    coder = constriction.stream.stack.AnsCoder()
    for symbols, table in reversed(streams):  # ANS is a stack: encode back to front
        symbols = np.asarray(symbols).ravel()
        if not symbols.size:
            continue
        table._check(symbols)
        if not table._trivial():
            table._encode(coder, symbols)
    return coder.get_compressed().astype("<u4").tobytes()


class SymbolReader:
    """Decodes runs one after another from bytes of :func:`encode_symbols`.

    Every run must be read, in the order it was written; :meth:`finish` checks that the
    bytes held exactly what was read.
    """

    def __init__(self, data: bytes) -> None:
        if len(data) % 4:
            raise FormatError(f"symbol stream of {len(data)} bytes is not whole 32-bit words")
        try:
            self._coder = constriction.stream.stack.AnsCoder(np.frombuffer(data, "<u4").copy())
        except ValueError as error:
            raise FormatError(f"symbol stream is damaged: {error}") from None

    def read(self, table: Model, count: int) -> np.ndarray:
        if count == 0 or table._trivial():
            return np.full(count, table.offset, dtype=np.int64)
        try:
            symbols = table._decode(self._coder, count)
        except ValueError as error:
            raise FormatError(f"symbol stream is damaged: {error}") from None
        return symbols.astype(np.int64) + table.offset

    def read_rows(self, probabilities: np.ndarray) -> np.ndarray:
        """One symbol per row of ``probabilities`` (rows, symbols), each coded with its
        row (rows of a :class:`TableSet`'s ``probabilities``, as :meth:`TableSet.choose`
        gives the encoder)."""
        try:
            return self._coder.decode(ChosenTables._family, probabilities)
        except ValueError as error:
            raise FormatError(f"symbol stream is damaged: {error}") from None

    def finish(self) -> None:
        if not self._coder.is_empty():
            words = self._coder.num_words()
            raise FormatError(f"symbol stream has {words} words left over after decoding")


def mantissa_streams(width: np.ndarray, mantissa: np.ndarray) -> list[tuple[np.ndarray, RawBits]]:
    """The bits below each magnitude's leading one (:func:`bitstream.integers.bit_classes`),
    raw, in runs of equal width: the streams :func:`read_magnitudes` reads back."""
    return [(mantissa[run], RawBits(bits)) for bits, run in enumerate(_width_runs(width))]


def read_magnitudes(reader: SymbolReader, sizes: np.ndarray) -> np.ndarray:
    """The magnitudes whose classes (bit lengths) are ``sizes``, their bits below the
    leading one read from ``reader`` as :func:`mantissa_streams` wrote them."""
    width = np.maximum(sizes - 1, 0)
    mantissa = np.zeros(len(sizes), dtype=np.int64)
    for bits, run in enumerate(_width_runs(width)):
        mantissa[run] = reader.read(RawBits(bits), len(run))
    return np.where(sizes > 0, (1 << width) + mantissa, 0)


def _width_runs(width: np.ndarray) -> list[np.ndarray]:
    """Positions of each mantissa width, 0 to the widest present (wider ones are empty)."""
    return runs_of(width, int(width.max(initial=-1)) + 1)


def decode_symbols(data: bytes, tables: Sequence[Model], counts: Sequence[int]) -> list[np.ndarray]:
    """Decode ``counts[i]`` symbols with ``tables[i]`` for each i: the inverse of encode."""
    reader = SymbolReader(data)
    runs = [reader.read(table, count) for table, count in zip(tables, counts, strict=True)]
    reader.finish()
    return runs


def _write_varints(values: np.ndarray) -> bytes:
    out = bytearray()
    for v in values.tolist():
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
    return bytes(out)


class _VarintReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self) -> int:
        value = shift = 0
        while True:
            if self.pos >= len(self.data):
                raise FormatError(f"truncated table data at byte {self.pos}")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 35:
                raise FormatError(f"overlong number in table data at byte {self.pos}")


def _zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def _unzigzag(v: int) -> int:
    return v // 2 if v % 2 == 0 else -(v + 1) // 2


def pack_tables(tables: Sequence[FrequencyTable]) -> bytes:
    """Tables as their count (a varint), then per table its offset (zigzag varint), size
    (varint) and codes (a byte each). Only tables made from codes can be stored."""
    out = bytearray(_write_varints(np.array([len(tables)])))
    for table in tables:
        if table.codes is None:
            raise ValueError("only tables made from codes or probabilities can be stored")
        out += _write_varints(np.array([_zigzag(table.offset), len(table.codes)]))
        out += table.codes.tobytes()
    return bytes(out)


def unpack_tables(data: bytes, max_tables: int = 1 << 16) -> list[FrequencyTable]:
    """Read tables written by :func:`pack_tables`, checking every count and size."""
    reader = _VarintReader(data)
    count = reader.read()
    if count > max_tables:
        raise FormatError(f"{count} frequency tables, at most {max_tables} expected")
    tables = []
    for _ in range(count):
        offset = _unzigzag(reader.read())
        size = reader.read()
        if abs(offset) > MAX_OFFSET:
            raise FormatError(f"table offset {offset} out of range at byte {reader.pos}")
        if not 1 <= size <= MAX_TABLE_SIZE or size > len(data) - reader.pos:
            raise FormatError(f"frequency table of {size} entries at byte {reader.pos}")
        codes = np.frombuffer(data, np.uint8, size, reader.pos)
        reader.pos += size
        tables.append(FrequencyTable.from_codes(offset, codes))
    if reader.pos != len(data):
        raise FormatError(f"{len(data) - reader.pos} unexpected bytes after the frequency tables")
    return tables
