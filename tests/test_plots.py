"""The figures: files that open as images of the expected size, numbers that add up."""

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from codec.cli import main
from codec.plots import animate_fit, band_snr, plot_comparison
from tests.helpers import synthetic_stereo


def test_band_snr_finds_the_band_the_error_is_in():
    rate = 16000
    audio = np.random.default_rng(0).standard_normal((rate, 2))
    t = np.arange(rate) / rate
    hum = 0.1 * np.sin(2 * np.pi * 1000 * t)[:, None]  # error only in the 1-2 kHz octave
    bands = band_snr(audio, audio + hum, rate)
    worst = min(bands, key=lambda band: band[2])
    assert worst[0] <= 1000 < worst[1]
    assert all(snr > 100 for low, high, snr in bands if not low <= 1000 < high)
    assert bands[0][0] == 0 and bands[-1][1] == rate / 2


def test_comparison_figure(tmp_path):
    audio = synthetic_stereo(seconds=1)
    path = tmp_path / "compare.png"
    plot_comparison(audio, audio * 0.9, 8000, path)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1100, 1000)


def test_animation_has_a_frame_per_snapshot(tmp_path):
    segment = synthetic_stereo(seconds=0.1)
    frames = [(i, segment * (i / 4)) for i in range(5)]
    path = tmp_path / "fit.gif"
    animate_fit(segment, frames, 8000, path, "test")
    with Image.open(path) as image:
        assert image.format == "GIF" and image.n_frames == 5 and image.size == (900, 500)


def test_compare_command(tmp_path, capsys):
    original, decoded = tmp_path / "a.wav", tmp_path / "b.flac"
    audio = synthetic_stereo(seconds=1)
    sf.write(original, audio, 8000)
    sf.write(decoded, audio * 0.99, 8000)
    assert main(["compare", str(original), str(decoded)]) == 0
    assert (tmp_path / "b.png").exists()
    printed = capsys.readouterr().out
    bands = band_snr(audio, audio * 0.99, 8000)
    assert "SNR 40.0" in printed and printed.count(" Hz ") == len(bands) == 7
    assert main(["compare", str(original), str(decoded)]) == 1  # exists: -f to overwrite
    sf.write(decoded, audio[:, :1], 8000)
    assert main(["compare", str(original), str(decoded), "-f"]) == 1
    assert "does not match" in capsys.readouterr().err


@pytest.mark.parametrize("mono", [False, True])
def test_comparison_of_mono_and_short_audio(tmp_path, mono):
    audio = synthetic_stereo(seconds=0.01)[:, :1] if mono else synthetic_stereo(seconds=0.01)
    plot_comparison(audio, audio * 0.5, 8000, tmp_path / "short.png")
    assert (tmp_path / "short.png").stat().st_size > 0


@pytest.mark.parametrize("mode", [[], ["--no-rate"]])
def test_fit_command_animates_every_few_iterations(tmp_path, capsys, mode):
    song = tmp_path / "song.wav"
    sf.write(song, synthetic_stereo(seconds=0.5), 8000)
    gif = tmp_path / "fit.gif"
    args = ["fit", str(song), "--iterations", "4", "--every", "2", "--quiet", *mode]
    assert main([*args, "--animate", str(gif)]) == 0
    with Image.open(gif) as image:  # the post: iterations 0, 2 and 4; the filterbank path's
        frames = 3 if mode else 2  # decoder fit has no iterations: before and after
        assert image.n_frames == frames and image.size == (900, 500)
    assert "SNR" in capsys.readouterr().out
    assert main([*args, "--animate", str(tmp_path / "fit.png")]) == 1
    assert "name it .gif" in capsys.readouterr().err


def test_info_plot(tmp_path):
    song = tmp_path / "song.wav"
    sf.write(song, synthetic_stereo(seconds=1), 8000)
    assert main(["compress", str(song), "--iterations", "2", "--quiet"]) == 0
    plot = tmp_path / "bits.png"
    assert main(["info", str(song.with_suffix(".sae")), "--plot", str(plot)]) == 0
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.size == (1000, 650)
