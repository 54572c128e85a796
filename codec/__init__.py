"""sae: a neural audio codec that fits what it codes to each song, every bit counted.

``compress`` and ``decompress`` code audio in memory, ``compress_file`` and
``decompress_file`` between files; coding paths (:mod:`codec.paths`) are the ways of
coding, the filterbank path the default. Names are imported when first used, so that the
command line answers at once and decoding never imports torch.
"""

import importlib
import os

# torch's OpenMP threads spin while they wait: with another job on the machine, training
# a learned autoencoder on two threads ran 6 to 15 times slower than passive waiting
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_HOMES = {
    "DEFAULT_QUALITY": "codec.quantizer",
    "AudioError": "codec.audio",
    "CodingPath": "codec.paths",
    "CompressionReport": "codec.api",
    "FilterbankPath": "codec.paths",
    "FitSettings": "codec.settings",
    "FormatError": "bitstream",
    "LearnedPath": "codec.paths.learned",
    "MissingModelError": "bitstream",
    "SharedModel": "bitstream",
    "Source": "bitstream",
    "compress": "codec.api",
    "compress_file": "codec.api",
    "decompress": "codec.api",
    "decompress_file": "codec.api",
    "describe": "codec.inspect",
    "fit_post": "codec.post",
    "read_model": "bitstream",
    "register_architecture": "codec.architectures",
    "register_path": "codec.paths",
    "snr_db": "codec.audio",
    "train_artist": "codec.artist",
    "write_model": "bitstream",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'codec' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


def __dir__() -> list[str]:
    return __all__
