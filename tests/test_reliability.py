"""Reliability: long tracks in segments, damaged files, odd audio, interrupted and repeated
runs. Segments are made short here (a few thousand frames) so that tiny signals have many."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import fuzz
from bitstream.filterbank import read_segment
from bitstream.sae import read_segments
from codec import (
    AudioError,
    FormatError,
    Source,
    compress,
    compress_file,
    decompress,
    decompress_file,
    describe,
    read_model,
    snr_db,
)
from tests.helpers import (
    TINY_PATH,
    boundary_and_middle_error,
    synthetic_stereo,
)

SEGMENT = 3000


def steady_tones(frames: int = 20000, rate: int = 8000) -> np.ndarray:
    """Tones of constant loudness and a little noise: the error is about as large
    everywhere, unless something (a segment edge) makes it larger."""
    rng = np.random.default_rng(0)
    t = np.arange(frames)[:, None] / rate
    tones = 0.1 * np.sin(2 * np.pi * rng.uniform(100, 1500, (1, 2, 3)) * t[..., None] + 1)
    return (tones.sum(axis=-1) + 0.01 * rng.standard_normal((frames, 2))).astype(np.float32)


def test_long_audio_is_coded_in_segments_with_invisible_edges():
    audio = steady_tones()
    data = compress(audio, 8000, quality=8.0, path=TINY_PATH,
                    segment_frames=SEGMENT)  # fmt: skip
    info = describe(data)
    assert info["segments"] == -(-len(audio) // SEGMENT) and info["frames"] == len(audio)
    decoded, _ = decompress(data)
    assert decoded.shape == audio.shape and snr_db(audio, decoded) > 20
    # no click or dip: the error next to a segment boundary is no worse than elsewhere
    edges, middle = boundary_and_middle_error((decoded - audio).T, SEGMENT)
    assert edges <= 1.25 * middle


def test_files_are_read_coded_and_written_a_segment_at_a_time(stereo, tmp_path):
    source, coded, back = tmp_path / "a.wav", tmp_path / "a.sae", tmp_path / "b.wav"
    sf.write(source, stereo, 8000, subtype="FLOAT")
    short = dict(path=TINY_PATH, segment_frames=SEGMENT)
    report = compress_file(source, coded, **short)
    data = coded.read_bytes()
    recorded = Source("FLOAT")  # what the file was: compress_file records it
    assert describe(data)["segments"] == 6 and data == compress(stereo, 8000, **short,
                                                                source=recorded)  # fmt: skip
    decoded, _ = decompress(data)
    assert report.snr_db == pytest.approx(snr_db(stereo, decoded), abs=1e-4)
    assert report.frames == len(stereo) and report.bytes == len(data)
    assert decompress_file(coded, back) == (len(stereo), 2, 8000)
    np.testing.assert_allclose(sf.read(back, dtype="float32")[0], decoded, atol=1 / 32768)


def test_a_damaged_last_segment_leaves_no_output(stereo, tmp_path):
    data = bytearray(compress(stereo, 8000, path=TINY_PATH, segment_frames=SEGMENT))
    data[-20] ^= 0x01  # in the last segment's coefficients
    damaged, out = tmp_path / "damaged.sae", tmp_path / "out.wav"
    damaged.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="CRC mismatch"):
        decompress_file(damaged, out)
    assert sorted(os.listdir(tmp_path)) == ["damaged.sae"]  # no output, no temporary file


@settings(max_examples=200, deadline=None)
@given(
    target=st.sampled_from(["sae", "saem"]),
    kind=st.sampled_from(fuzz.KINDS),
    seed=st.integers(0, 2**32 - 1),
)
def test_damaged_files_end_in_format_errors(target, kind, seed):
    """A bounded run of ``python -m benchmarks.fuzz``: any exception but FormatError fails."""
    fuzz.check(fuzz.damage(SAMPLES[target], kind, np.random.default_rng(seed)), kind)


SAMPLES = fuzz.sample_files()


def test_the_fuzz_samples_are_valid():
    assert describe(SAMPLES["sae"])["segments"] == 2
    first = next(read_segments(SAMPLES["sae"]))  # its damaged knots reach the reader
    assert max(map(len, read_segment(first.sections, first.header.frames, False).angles)) > 1
    assert read_model(SAMPLES["saem"]).path == "filterbank"


def test_same_input_gives_the_same_bytes_whatever_the_thread_count(stereo):
    threads = torch.get_num_threads()
    try:
        runs = []
        for count in (1, 2, 1):
            torch.set_num_threads(count)
            runs.append(compress(stereo[:4000], 8000, path=TINY_PATH))
        decoded = []
        for count in (1, 2):
            torch.set_num_threads(count)
            decoded.append(decompress(runs[0])[0])
    finally:
        torch.set_num_threads(threads)
    assert runs[0] == runs[1] == runs[2]
    np.testing.assert_allclose(decoded[0], decoded[1], atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "rate, subtype",
    [(8000, "PCM_U8"), (11025, "PCM_16"), (44100, "PCM_24"), (48000, "FLOAT"), (192000, "PCM_16")],
)
@pytest.mark.parametrize("channels", [1, 2])
def test_odd_rates_depths_and_channels_come_back_in_shape(tmp_path, rate, subtype, channels):
    audio = synthetic_stereo(seconds=0.25, rate=rate)[:, :channels]
    source, coded, back = tmp_path / "in.wav", tmp_path / "in.sae", tmp_path / "out.wav"
    sf.write(source, audio, rate, subtype=subtype)
    report = compress_file(source, coded, path=TINY_PATH)
    assert report.snr_db > 10 if subtype != "PCM_U8" else report.snr_db > 5
    assert decompress_file(coded, back) == (len(audio), channels, rate)
    assert sf.info(back).frames == len(audio)


def square(frames: int) -> np.ndarray:
    return np.where(np.arange(frames) // 20 % 2, 1.0, -1.0)[:, None].repeat(2, axis=1)


@pytest.mark.parametrize(
    "audio, floor",
    [
        (np.zeros((0, 2)), None),  # no frames
        (np.full((1, 2), 0.5), None),  # one frame
        (0.3 * synthetic_stereo()[:30], None),  # shorter than a transform frame
        (np.zeros((5000, 2)), None),  # digital silence
        (square(5000), 15),  # full scale
        (np.clip(3 * synthetic_stereo(seconds=0.5), -1, 1), 15),  # clipped
        (1.5 * synthetic_stereo(seconds=0.5), 15),  # beyond full scale: kept in floats
    ],
)
def test_odd_signals_code_and_keep_their_shape(audio, floor):
    audio = audio.astype(np.float32)
    decoded, _ = decompress(compress(audio, 8000, quality=8.0, path=TINY_PATH))
    assert decoded.shape == audio.shape
    if floor is not None:
        assert snr_db(audio, decoded) > floor
    if not audio.any():
        assert not decoded.any()


def with_sample(value: float):
    def damage(audio: np.ndarray) -> np.ndarray:
        audio = audio.copy()
        audio[500, 1] = value
        return audio

    return damage


def three_channels(audio: np.ndarray) -> np.ndarray:
    return np.concatenate([audio, audio[:, :1]], axis=1)


@pytest.mark.parametrize(
    "damage, message",
    [
        (with_sample(np.nan), "NaN or infinite"),
        (with_sample(-np.inf), "NaN or infinite"),
        (three_channels, "this has 3 channels"),
    ],
)
def test_unusable_audio_in_a_file_is_a_clear_error_and_no_output(tmp_path, damage, message):
    source, target = tmp_path / "bad.wav", tmp_path / "bad.sae"
    sf.write(source, damage(synthetic_stereo(seconds=0.25)), 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match=message):
        compress_file(source, target, path=TINY_PATH)
    assert sorted(os.listdir(tmp_path)) == ["bad.wav"]


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_compress_leaves_nothing_under_the_final_name(tmp_path, how):
    source = tmp_path / "song.wav"
    sf.write(source, synthetic_stereo(seconds=60), 8000)  # long enough to be caught at work
    original = source.read_bytes()
    command = [sys.executable, "-m", "codec", "compress", source]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(name.startswith(".song.sae.") for name in os.listdir(tmp_path)):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)  # until the output is being written (its temporary file exists)
    process.send_signal(how)
    _, stderr = process.communicate(timeout=60)
    assert not (tmp_path / "song.sae").exists() and source.read_bytes() == original
    if how == signal.SIGINT:  # a clean stop: says so, removes its temporary file
        assert process.returncode == 130 and "interrupted" in stderr
        assert sorted(os.listdir(tmp_path)) == ["song.wav"]
