"""Named weight arrays (a decoder's parameters) packed as float16 and read back.

Payload layout (little-endian)::

    u16 tensor count, then per tensor:
        u8  name length, name (UTF-8)
        u8  number of dimensions d, then d x u32 sizes
        float16 values, C order

>>> arrays = {"conv.weight": np.ones((2, 3), dtype=np.float32)}
>>> back = unpack_weights(pack_weights(arrays))
>>> list(back), back["conv.weight"].dtype, back["conv.weight"].shape
(['conv.weight'], dtype('float32'), (2, 3))
"""

from __future__ import annotations

import struct

import numpy as np

from bitstream.container import FormatError

MAX_WEIGHTS = 1 << 26  # values in all tensors together: far above any model of this codec


def pack_weights(arrays: dict[str, np.ndarray]) -> bytes:
    """Pack float arrays by name at float16 precision."""
    parts = [struct.pack("<H", len(arrays))]
    for name, array in arrays.items():
        encoded = name.encode()
        if not 0 < len(encoded) < 256:
            raise ValueError(f"weight name {name!r} must be 1 to 255 bytes")
        parts.append(struct.pack(f"<B{len(encoded)}sB", len(encoded), encoded, array.ndim))
        parts.append(struct.pack(f"<{array.ndim}I", *array.shape))
        parts.append(np.ascontiguousarray(array, dtype="<f2").tobytes())
    return b"".join(parts)


def unpack_weights(data: bytes) -> dict[str, np.ndarray]:
    """Read arrays written by :func:`pack_weights` as float32, checking every size."""
    pos = 0

    def take(size: int, what: str) -> bytes:
        nonlocal pos
        if size > len(data) - pos:
            raise FormatError(f"truncated weights: {what} at byte {pos} needs {size} bytes")
        pos += size
        return data[pos - size : pos]

    (count,) = struct.unpack("<H", take(2, "tensor count"))
    arrays: dict[str, np.ndarray] = {}
    total = 0
    for _ in range(count):
        (length,) = struct.unpack("<B", take(1, "name length"))
        try:
            name = take(length, "name").decode()
        except UnicodeDecodeError:
            raise FormatError(f"weight name before byte {pos} is not UTF-8") from None
        (ndim,) = struct.unpack("<B", take(1, "dimension count"))
        shape = struct.unpack(f"<{ndim}I", take(4 * ndim, "shape"))
        size = int(np.prod(shape, dtype=np.int64))
        total += size
        if total > MAX_WEIGHTS:
            raise FormatError(f"weights claim more than {MAX_WEIGHTS} values at byte {pos}")
        values = np.frombuffer(take(2 * size, f"tensor {name!r}"), dtype="<f2")
        if not np.all(np.isfinite(values)):
            raise FormatError(f"tensor {name!r} holds non-finite values")
        if name in arrays:
            raise FormatError(f"tensor {name!r} appears twice")
        arrays[name] = values.astype(np.float32).reshape(shape)
    if pos != len(data):
        raise FormatError(f"{len(data) - pos} unexpected bytes after the weights")
    return arrays
