"""Named integer tensors, each with its step (a decoder's quantized weights), entropy-coded.

A decoder's weights (or their offsets from where it starts) are stored rounded to a step
per tensor; the integers are small and mostly near zero, so they are coded by their bit
lengths (:mod:`bitstream.integers`): a signed class ``sign(v) * bit_length(|v|)`` under
one table, then the bits below the leading one, raw.

Payload layout (little-endian)::

    u16  tensor count, then per tensor:
             u8  name length, name (UTF-8)
             f32 step: each integer times the step is a weight (or an offset)
             u8  number of dimensions d, then d x u32 sizes
    u32  length T of the table, then T bytes: the class table (bitstream.entropy)
         the rest: the classes, then the mantissas, coded (bitstream.entropy)

>>> tensors = {"conv.weight": (0.001, np.array([[0, 3, -1], [7, 0, 0]])),
...            "conv.bias": (0.5, np.zeros(2, int))}
>>> back = unpack_weights(pack_weights(tensors))
>>> [(name, round(step, 6), values.tolist()) for name, (step, values) in back.items()]
[('conv.weight', 0.001, [[0, 3, -1], [7, 0, 0]]), ('conv.bias', 0.5, [0, 0])]
"""

from __future__ import annotations

import math
import struct

import numpy as np

from bitstream.container import FormatError
from bitstream.entropy import (
    FrequencyTable,
    SymbolReader,
    encode_symbols,
    mantissa_streams,
    pack_tables,
    read_magnitudes,
    unpack_tables,
)
from bitstream.integers import MAX_CLASS, bit_classes

MAX_WEIGHTS = 1 << 22  # values in all tensors together: far above any model of this codec


def _signed_classes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signed class ``sign(v) * bit_length(|v|)``, mantissa width and mantissa."""
    size, width, mantissa = bit_classes(np.abs(values))
    return np.sign(values) * size, width, mantissa


Tensors = dict[str, tuple[float, np.ndarray]]  # name: (step, integers)


def pack_weights(tensors: Tensors) -> bytes:
    """Pack integer tensors by name, each with the step it is a multiple of."""
    parts = [struct.pack("<H", len(tensors))]
    for name, (step, array) in tensors.items():
        encoded = name.encode()
        if not 0 < len(encoded) < 256:
            raise ValueError(f"weight name {name!r} must be 1 to 255 bytes")
        parts.append(struct.pack(f"<B{len(encoded)}sfB", len(encoded), encoded, step, array.ndim))
        parts.append(struct.pack(f"<{array.ndim}I", *array.shape))
    flat = [np.asarray(array, dtype=np.int64).ravel() for _, array in tensors.values()]
    values = np.concatenate(flat or [np.zeros(0, dtype=np.int64)])
    if np.abs(values).max(initial=0) >= 1 << MAX_CLASS:
        raise ValueError(f"weight integers must stay below 2**{MAX_CLASS} in magnitude")
    classes, width, mantissa = _signed_classes(values)
    low, high = int(classes.min(initial=0)), int(classes.max(initial=0))
    counts = np.bincount(classes - low, minlength=high - low + 1)
    table = FrequencyTable.from_probabilities(low, counts if counts.sum() else [1.0])
    streams = [(classes, table), *mantissa_streams(width, mantissa)]
    tables = pack_tables([table])
    parts += [struct.pack("<I", len(tables)), tables, encode_symbols(streams)]
    return b"".join(parts)


def unpack_weights(data: bytes) -> Tensors:
    """Read the tensors written by :func:`pack_weights`, checking every size."""
    pos = 0

    def take(size: int, what: str) -> bytes:
        nonlocal pos
        if size > len(data) - pos:
            raise FormatError(f"truncated weights: {what} at byte {pos} needs {size} bytes")
        pos += size
        return data[pos - size : pos]

    (count,) = struct.unpack("<H", take(2, "tensor count"))
    shapes: dict[str, tuple[int, ...]] = {}
    steps: dict[str, float] = {}
    total = 0
    for _ in range(count):
        (length,) = struct.unpack("<B", take(1, "name length"))
        try:
            name = take(length, "name").decode()
        except UnicodeDecodeError:
            raise FormatError(f"weight name before byte {pos} is not UTF-8") from None
        step, ndim = struct.unpack("<fB", take(5, "step and dimension count"))
        if not np.isfinite(step) or step <= 0:
            raise FormatError(f"weight step {step} of {name!r} is unusable")
        shape = struct.unpack(f"<{ndim}I", take(4 * ndim, "shape"))
        total += math.prod(shape)  # Python integers: a forged shape cannot overflow
        if total > MAX_WEIGHTS:
            raise FormatError(f"weights claim more than {MAX_WEIGHTS} values at byte {pos}")
        if name in shapes:
            raise FormatError(f"tensor {name!r} appears twice")
        shapes[name], steps[name] = shape, float(step)
    (length,) = struct.unpack("<I", take(4, "table length"))
    tables = unpack_tables(take(length, "class table"), max_tables=1)
    if len(tables) != 1 or tables[0].offset < -MAX_CLASS or tables[0].symbols.stop > MAX_CLASS + 1:
        raise FormatError(f"weights need one class table within +-{MAX_CLASS}")
    reader = SymbolReader(data[pos:])
    classes = reader.read(tables[0], total)
    values = np.sign(classes) * read_magnitudes(reader, np.abs(classes))
    reader.finish()
    tensors, start = {}, 0
    for name, shape in shapes.items():
        size = math.prod(shape)
        tensors[name] = steps[name], values[start : start + size].reshape(shape)
        start += size
    return tensors
