"""The ``.sae`` byte format: containers, entropy coding and weights. Never imports torch."""

from bitstream.container import FormatError
from bitstream.entropy import FrequencyTable, decode_symbols, encode_symbols
from bitstream.sae import SaeSegment, read_segments, write_segment

__all__ = [
    "FormatError",
    "FrequencyTable",
    "SaeSegment",
    "decode_symbols",
    "encode_symbols",
    "read_segments",
    "write_segment",
]
