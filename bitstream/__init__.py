"""The ``.sae`` byte format: containers, entropy coding and the coding paths' sections.
Knows bytes and integers; never imports torch."""

from bitstream.container import FormatError
from bitstream.entropy import FrequencyTable, decode_symbols, encode_symbols
from bitstream.sae import (
    MissingModelError,
    Segment,
    SegmentHeader,
    Source,
    read_segments,
    write_segment,
)
from bitstream.saem import SharedModel, read_model, write_model

__all__ = [
    "FormatError",
    "FrequencyTable",
    "MissingModelError",
    "Segment",
    "SegmentHeader",
    "SharedModel",
    "Source",
    "decode_symbols",
    "encode_symbols",
    "read_model",
    "read_segments",
    "write_model",
    "write_segment",
]
