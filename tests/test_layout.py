"""The shape of the project: what imports what, and what is installed."""

import subprocess
import sys

from codec import cli
from codec.perceptual import SCORE_SECONDS
from codec.quantizer import DEFAULT_QUALITY
from codec.settings import FitSettings


def test_bitstream_never_imports_torch():
    code = (
        "import sys, bitstream, bitstream.sae, bitstream.filterbank; print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_the_benchmarks_are_not_installed(tmp_path):
    """They run from the repository (python -m benchmarks.rd), not from an install."""
    code = "import importlib.util; print(importlib.util.find_spec('benchmarks'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path)  # fmt: skip
    assert result.stdout.strip() == "None", result.stderr


def test_the_command_line_defaults_are_the_codecs():
    """The CLI reads its arguments before importing the codec, so it keeps copies."""
    assert cli.DEFAULT_QUALITY == DEFAULT_QUALITY
    assert FitSettings().iterations == cli.DEFAULT_ITERATIONS
    assert FitSettings.of_post().iterations == cli.POST_ITERATIONS
    assert SCORE_SECONDS == cli.SCORE_SECONDS


def test_the_filterbank_path_never_imports_torch(tmp_path):
    """Coding and decoding run on numpy: torch only for the post's model."""
    code = (
        "import sys, numpy as np, codec\n"
        "audio = np.random.default_rng(0).uniform(-0.5, 0.5, (8000, 2)).astype(np.float32)\n"
        "decoded, _ = codec.decompress(codec.compress(audio, 8000))\n"
        "print(decoded.shape, 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "(8000, 2) False", result.stderr


def test_help_imports_nothing_heavy():
    code = "import sys, codec.cli; print(sorted({'numpy', 'torch', 'scipy'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_the_command_line_names_every_architecture():
    from codec.architectures import ARCHITECTURES

    assert cli.ARCHITECTURES[0] == "filterbank"
    assert all(name in ARCHITECTURES for name in cli.ARCHITECTURES[1:])  # the built-in ones
