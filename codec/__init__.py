"""sae: a stereo autoencoder fitted to one song, its latents entropy-coded into ``.sae``."""

from bitstream import FormatError
from codec.api import (
    AudioError,
    CompressionReport,
    compress,
    compress_file,
    decompress,
    decompress_file,
    describe,
    fit_post,
    snr_db,
)
from codec.fit import DEFAULT_QUALITY, FitSettings, fit_decoder, fit_plain
from codec.model import Autoencoder, ModelConfig

__all__ = [
    "DEFAULT_QUALITY",
    "AudioError",
    "Autoencoder",
    "CompressionReport",
    "FitSettings",
    "FormatError",
    "ModelConfig",
    "compress",
    "compress_file",
    "decompress",
    "decompress_file",
    "describe",
    "fit_decoder",
    "fit_plain",
    "fit_post",
    "snr_db",
]
