"""sae: a neural audio codec that fits what it codes to each song, every bit counted.

``compress`` and ``decompress`` code audio in memory, ``compress_file`` and
``decompress_file`` between files; coding paths (:mod:`codec.paths`) are the ways of
coding, the filterbank path the default.
"""

from bitstream import FormatError, MissingModelError, SharedModel, read_model, write_model
from codec.api import CompressionReport, compress, compress_file, decompress, decompress_file
from codec.artist import train_artist
from codec.audio import AudioError, snr_db
from codec.inspect import describe
from codec.paths import CodingPath, FilterbankPath, register_path
from codec.post import fit_post
from codec.quantizer import DEFAULT_QUALITY
from codec.settings import FitSettings

__all__ = [
    "DEFAULT_QUALITY",
    "AudioError",
    "CodingPath",
    "CompressionReport",
    "FilterbankPath",
    "FitSettings",
    "FormatError",
    "MissingModelError",
    "SharedModel",
    "compress",
    "compress_file",
    "decompress",
    "decompress_file",
    "describe",
    "fit_post",
    "read_model",
    "register_path",
    "snr_db",
    "train_artist",
    "write_model",
]
