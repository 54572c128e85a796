"""The ``.sae`` byte format: containers, entropy coding and weights. Never imports torch."""

from bitstream.container import FormatError
from bitstream.entropy import FrequencyTable, decode_symbols, encode_symbols
from bitstream.sae import MissingModelError, SaeSegment, read_segments, write_segment
from bitstream.saem import SharedModel, read_model, write_model

__all__ = [
    "FormatError",
    "FrequencyTable",
    "MissingModelError",
    "SaeSegment",
    "SharedModel",
    "decode_symbols",
    "encode_symbols",
    "read_model",
    "read_segments",
    "write_model",
    "write_segment",
]
