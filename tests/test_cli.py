import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec.cli import main
from tests.helpers import run, synthetic_stereo

FAST = ["--iterations", "3", "--quiet"]


@pytest.fixture
def wav(tmp_path) -> Path:
    path = tmp_path / "song.wav"
    sf.write(path, synthetic_stereo(seconds=0.5), 8000)
    return path


def test_compress_decompress_info(wav, tmp_path):
    result = run("compress", wav, *FAST)
    assert result.returncode == 0, result.stderr
    sae = wav.with_suffix(".sae")
    assert sae.exists()
    for word in ("bits/sample", "kbps", "smaller than 16-bit PCM", "SNR"):
        assert word in result.stdout

    out = tmp_path / "decoded.wav"
    assert run("decompress", sae, "-o", out).returncode == 0
    decoded, rate = sf.read(out)
    assert decoded.shape == (4000, 2) and rate == 8000

    info = json.loads(run("info", sae, "--json").stdout)
    assert info["frames"] == 4000 and info["channels"] == 2 and info["sample_rate"] == 8000
    sections = info["sections"]
    assert info["bytes"] == sae.stat().st_size == sum(sections.values()) + 8 + 12 * len(sections)
    assert info["path"] == "filterbank"
    assert info["bits_per_sample"] == pytest.approx(8 * info["bytes"] / 8000)
    assert "coded_latent_channels   8" in run("info", sae).stdout


def test_bitrate_target(tmp_path):
    wav = tmp_path / "noisy.wav"
    audio = synthetic_stereo(seconds=3, rate=16000)
    audio += 0.05 * np.random.default_rng(0).standard_normal(audio.shape).astype(np.float32)
    sf.write(wav, audio, 16000, subtype="FLOAT")
    assert main(["compress", str(wav), "--bitrate", "48", *FAST]) == 0
    kbps = 8 * wav.with_suffix(".sae").stat().st_size / 3 / 1000
    assert kbps == pytest.approx(48, rel=0.03)
    result = run("compress", wav, "--bitrate", "48", "-q", "5", "-f", *FAST)
    assert result.returncode == 2 and "not allowed with" in result.stderr


def test_refuses_to_overwrite_without_force(wav):
    assert main(["compress", str(wav), *FAST]) == 0
    sae = wav.with_suffix(".sae")
    before = sae.read_bytes()
    result = run("compress", wav, *FAST)
    assert result.returncode == 1
    assert result.stderr.strip() == f"sae: error: {sae} exists (use -f to overwrite)"
    assert sae.read_bytes() == before
    assert main(["compress", str(wav), *FAST, "-q", "9", "-f"]) == 0
    assert sae.read_bytes() != before


def test_no_partial_files_are_left(wav):
    main(["compress", str(wav), *FAST])
    assert sorted(p.name for p in wav.parent.iterdir()) == ["song.sae", "song.wav"]
    umask = os.umask(0)
    os.umask(umask)
    assert wav.with_suffix(".sae").stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Good and bad inputs for the error cases, made once."""
    folder = tmp_path_factory.mktemp("files")
    names = {"tmp": folder, "out": folder / "out.wav", "sae": folder / "t.sae"}
    names["wav"] = folder / "song.wav"
    sf.write(names["wav"], synthetic_stereo(seconds=0.5), 8000)
    names["junk"] = folder / "junk.sae"
    names["junk"].write_bytes(b"not audio at all")
    names["junkwav"] = folder / "junk.wav"
    names["junkwav"].write_bytes(b"not audio at all")
    names["nan"] = folder / "nan.wav"
    sf.write(names["nan"], np.full((100, 2), np.nan, np.float32), 8000, subtype="FLOAT")
    names["six"] = folder / "six.wav"
    sf.write(names["six"], np.zeros((100, 6), np.float32), 8000)
    assert main(["compress", str(names["wav"]), *FAST, "-o", str(names["sae"])]) == 0
    names["truncated"] = folder / "truncated.sae"
    names["truncated"].write_bytes(names["sae"].read_bytes()[:-7])
    return names


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["compress", "missing.wav"], 1, "missing.wav: no such file"),
        (["compress", "{truncated}"], 1, "already a .sae file"),
        (["decompress", "{sae}", "-o", "{out}.xyz"], 1, "cannot write audio as .xyz"),
        (["decompress", "{sae}", "-o", "{tmp}/no/such/out.wav"], 1, "no folder"),
        (["compress", "{wav}", "-q", "99"], 2, "quality 99 is outside"),
        (["compress", "{wav}", "--iterations", "0"], 2, "not a positive number"),
        (["frobnicate"], 2, "invalid choice"),
        (["decompress", "{junk}"], 1, "not a .sae file"),
        (["decompress", "{wav}", "-o", "{out}"], 1, "not a .sae file (it looks like WAV audio)"),
        (["decompress", "{wav}"], 1, "not a .sae file (it looks like WAV audio)"),
        (["info", "{junk}"], 1, "not a .sae file"),
        (["compress", "{junkwav}"], 1, "Format not recognised"),
        (["compress", "{nan}"], 1, "NaN"),
        (["compress", "{six}"], 1, "6 channels"),
        (["decompress", "{truncated}"], 1, "truncated"),
        (["compress", "{wav}", "-o", "{wav}", "-f"], 1, "is the input file"),
    ],
)
def test_errors_are_one_line_with_exit_codes(files, args, code, message):
    result = run(*[a.format(**files) for a in args], *(FAST if args[0] == "compress" else []))
    assert result.returncode == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert files["wav"].exists() and sf.info(files["wav"]).frames == 4000
    assert not files["out"].exists()
