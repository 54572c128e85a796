"""sae: a stereo autoencoder fitted to one song, its latents entropy-coded into ``.sae``."""

from bitstream import FormatError, MissingModelError, SharedModel, read_model, write_model
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
from codec.artist import train_artist
from codec.fit import DEFAULT_QUALITY, FitSettings, fit_decoder, fit_plain
from codec.model import Autoencoder, ModelConfig

__all__ = [
    "DEFAULT_QUALITY",
    "AudioError",
    "Autoencoder",
    "CompressionReport",
    "FitSettings",
    "FormatError",
    "MissingModelError",
    "ModelConfig",
    "SharedModel",
    "compress",
    "compress_file",
    "decompress",
    "decompress_file",
    "describe",
    "fit_decoder",
    "fit_plain",
    "fit_post",
    "read_model",
    "snr_db",
    "train_artist",
    "write_model",
]
