"""The ``.sae`` byte format: containers, entropy coding and weights. Never imports torch."""

from bitstream.container import FormatError
from bitstream.entropy import FrequencyTable, decode_symbols, encode_symbols
from bitstream.sae import SaeFile, read_sae, write_sae

__all__ = [
    "FormatError",
    "FrequencyTable",
    "SaeFile",
    "decode_symbols",
    "encode_symbols",
    "read_sae",
    "write_sae",
]
