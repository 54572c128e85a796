"""The ``sae`` command as a user runs it: arguments, messages, exit codes, several files.
Pipes, logs, formats, signals and rate targets: tests/test_cli_io.py."""

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bitstream.container import SAE_MAGIC, read_container, write_container
from bitstream.sae import VERSION
from codec import commands
from codec.cli import main
from codec.settings import FitSettings
from tests.helpers import ROOT, run, sae_command, sae_env, synthetic_stereo

FAST = ["--quiet"]


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
    assert info["path"] == "filterbank" and info["sample_format"] == "PCM_16"
    assert info["bits_per_sample"] == pytest.approx(8 * info["bytes"] / 8000)
    assert "coded_latent_channels   8" in run("info", sae).stdout


def test_bitrate_target(tmp_path, capsys):
    wav = tmp_path / "noisy.wav"
    audio = synthetic_stereo(seconds=3, rate=16000)
    audio += 0.05 * np.random.default_rng(0).standard_normal(audio.shape).astype(np.float32)
    sf.write(wav, audio, 16000, subtype="FLOAT")
    assert main(["compress", str(wav), "--bitrate", "48", *FAST]) == 0
    kbps = 8 * wav.with_suffix(".sae").stat().st_size / 3 / 1000
    assert kbps == pytest.approx(48, rel=0.03)
    assert capsys.readouterr().err == ""  # met: no note


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
    names["flac"] = folder / "song.flac"
    sf.write(names["flac"], synthetic_stereo(seconds=0.5), 8000)
    names["junk"] = folder / "junk.sae"
    names["junk"].write_bytes(b"not audio at all")
    names["junkwav"] = folder / "junk.wav"
    names["junkwav"].write_bytes(b"not audio at all")
    names["nan"] = folder / "nan.wav"
    sf.write(names["nan"], np.full((100, 2), np.nan, np.float32), 8000, subtype="FLOAT")
    names["six"] = folder / "six.wav"
    sf.write(names["six"], np.zeros((100, 6), np.float32), 8000)
    names["mono"] = folder / "mono.wav"
    sf.write(names["mono"], synthetic_stereo(seconds=0.5)[:, 0], 8000)
    names["tiny"] = folder / "tiny.wav"  # so short that the file outweighs 16-bit PCM
    sf.write(names["tiny"], synthetic_stereo(seconds=0.01), 8000)
    assert main(["compress", str(names["wav"]), *FAST, "-o", str(names["sae"])]) == 0
    names["truncated"] = folder / "truncated.sae"
    names["truncated"].write_bytes(names["sae"].read_bytes()[:-7])
    names["old"] = folder / "old.sae"  # the format before this one
    _, sections = read_container(io.BytesIO(names["sae"].read_bytes()), SAE_MAGIC, {VERSION})
    names["old"].write_bytes(write_container(SAE_MAGIC, VERSION - 1, list(sections.items())))
    names["adir"] = folder / "adir"
    names["adir"].mkdir()
    return names


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["compress", "missing.wav"], 1, "missing.wav: no such file"),
        (["compress", "{truncated}"], 1, "already a .sae file"),
        (["decompress", "{sae}", "-o", "{out}.xyz"], 1, "cannot write audio as .xyz"),
        (["decompress", "{sae}", "-o", "{tmp}/no/such/out.wav"], 1, "no folder"),
        (["compress", "{wav}", "-q", "99"], 2, "quality: 99 is outside 0 to 24"),
        (["compress", "{wav}", "--iterations", "0"], 2, "0 is outside 1 to"),
        (["frobnicate"], 2, "invalid choice"),
        (["decompress", "{wav}", "-o", "{out}"], 1, "song.wav: not a .sae file (it looks like WAV"),
        (["compress", "{junkwav}"], 1, "Format not recognised"),
        (["compress", "{nan}"], 1, "NaN"),
        (["compress", "{six}"], 1, "6 channels"),
        (["decompress", "{truncated}"], 1, "truncated"),
        (["compress", "{wav}", "-o", "{wav}", "-f"], 1, "is the input file"),
        (["compress", "{adir}"], 1, "adir: a folder with no audio files in it"),
        (["fit", "{adir}"], 1, "adir is a folder, not a file"),
        (["compress", "{wav}", "-o", "{adir}", "-f"], 1, "adir is a folder: name the output"),
        (["decompress", "{sae}", "-o", "{adir}", "-f"], 1, "adir is a folder: name the output"),
        (["compress", "{wav}", "{flac}", "-f"], 2, "would both be written to"),
        (["compress", "{wav}", "{flac}", "-o", "{out}"], 2, "-o names one output"),
        (["decompress", "{sae}", "{sae}"], 2, "would both be written to"),
        (["info", "{sae}", "{sae}", "--plot", "{tmp}/x.png"], 2, "--plot draws one file"),
        (["compress", "-", "{wav}"], 2, "standard input (-) is coded on its own"),
        (["info", "-", "-"], 2, "standard input (-) can be read once"),
        (["compress", "{wav}", "--scheduler", "nowhere"], 2, "'nowhere' is not a scheduler's"),
        (["compress", "{wav}", "--scheduler", "tcp://127.0.0.1:1", "-j", "2"], 2, "-j sizes a"),
        (["decompress", "{sae}", "--manifest", "{adir}"], 2, "--manifest: {adir} is a folder"),
        (["compress", "{wav}", "--manifest", "{tmp}/no/m.json"], 2, "--manifest: no folder"),
    ],
)
def test_errors_are_one_line_with_exit_codes(files, args, code, message):
    result = run(*[a.format(**files) for a in args], *(FAST if args[0] == "compress" else []))
    assert result.returncode == code
    assert message.format(**files) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert files["wav"].exists() and sf.info(files["wav"]).frames == 4000
    assert not files["out"].exists() and not (files["tmp"] / "song.sae").exists()
    assert not list(files["adir"].iterdir())


def test_files_that_are_not_sae_files_are_named(files):
    """Before: "not a b'SAE\\x1a' file: offset 0 holds b'RIFF'"."""
    result = run("info", *(files[name] for name in ("junk", "wav", "flac", "old", "sae")))
    assert result.returncode == 1 and result.stdout.startswith(str(files["sae"]))
    assert result.stderr.splitlines() == [
        f"sae: error: {files['junk']}: not a .sae file",
        f"sae: error: {files['wav']}: not a .sae file (it looks like WAV audio)",
        f"sae: error: {files['flac']}: not a .sae file (it looks like FLAC audio)",
        f"sae: error: {files['old']}: unsupported format version {VERSION - 1} "
        f"(this reader knows {VERSION}): "
        "written by another version of sae",
        "sae: error: 4 of 5 files failed",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", "-1"], "--seed: -1 is outside 0 to 4294967295"),
        (["--seed", "abc"], "--seed: 'abc' is not a whole number"),
        (["-q", "abc"], "-q/--quality: 'abc' is not a number"),
        (["-q", "nan"], "-q/--quality: nan is outside 0 to 24"),
        (["--jobs", "0"], "-j/--jobs: 0 is outside 1 to"),
        (["--iterations", "1.5"], "--iterations: '1.5' is not a positive whole number"),
        (["--bitrate", "0"], "--bitrate: 0 is not a positive number"),
        (["--bitrate", "inf"], "--bitrate: inf is outside 0 to"),
        (["--device", "tpu"], "--device: invalid choice: 'tpu'"),
        (["--bitrate", "64", "-q", "3"], "not allowed with"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_options_are_checked_before_any_work_in_one_line(files, args, message):
    """Before: --seed -1 was a 20-line numpy traceback after the input was read."""
    result = run("compress", files["wav"], "-o", files["out"].with_suffix(".sae"), *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not files["out"].with_suffix(".sae").exists()


def test_help_version_and_usage_errors_import_nothing_heavy(files):
    """Parse first, import late: help, --version and a mistyped option answer without
    loading numpy, soundfile, numba, scipy or torch (python -X importtime lists them)."""
    for args, code, expected in [
        (["--help"], 0, "formats: sae reads audio in any format libsndfile reads"),
        (["--version"], 0, "sae 0.1.0"),
        (["compress", "--help"], 0, "'-' for standard input"),
        (["compress", files["wav"], "-q", "abc"], 2, "is not a number"),
    ]:
        command = [sys.executable, "-X", "importtime", *sae_command(*args)[1:]]
        result = subprocess.run(command, capture_output=True, text=True, env=sae_env())
        assert result.returncode == code and expected in result.stdout + result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
        imported = {line.split("|")[-1].strip().split(".")[0] for line in lines}
        heavy = {"numpy", "soundfile", "numba", "scipy", "torch", "tqdm", "dask", "distributed"}
        assert not imported & heavy


def test_messages_say_what_happened(files, tmp_path, capsys):
    assert main(["compress", str(files["mono"]), "-o", str(tmp_path / "mono.sae"), *FAST]) == 0
    decoded = run("decompress", tmp_path / "mono.sae", "-o", tmp_path / "mono.wav")
    assert ": 4000 frames, 1 channel, 8000 Hz, 16-bit" in decoded.stdout  # not "1 channels"
    capsys.readouterr()
    assert main(["compress", str(files["tiny"]), "-o", str(tmp_path / "tiny.sae"), *FAST]) == 0
    tiny = capsys.readouterr().out
    assert "x larger than 16-bit PCM" in tiny and "0.0x" not in tiny


@pytest.mark.parametrize(
    "command, first",
    [(["info", *["{sae}"] * 200], b"/"), (["decompress", "{sae}", "-o", "-"], b"")],
)
def test_a_closed_pipe_ends_quietly(files, command, first):
    """sae info *.sae | head -c 1, sae decompress x.sae -o - | true: no "Broken pipe", no
    traceback."""
    command = sae_command(*[a.format(**files) for a in command])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=sae_env())  # fmt: skip
    assert process.stdout.read(len(first)) == first
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait() == 141 and stderr == ""


def test_several_files_for_decompress_and_info(files, tmp_path):
    first, second, bad = tmp_path / "a.sae", tmp_path / "b.sae", tmp_path / "bad.sae"
    for path in (first, second):
        path.write_bytes(files["sae"].read_bytes())
    bad.write_bytes(files["truncated"].read_bytes())
    result = run("decompress", first, bad, second, "--quiet")
    assert result.returncode == 1  # the bad one said so, and the others were decoded
    assert "[1/3] " in result.stdout and "[3/3] " in result.stdout
    assert "bad.sae: truncated file" in result.stderr and "1 of 3 files failed" in result.stderr
    assert sf.info(tmp_path / "a.wav").frames == sf.info(tmp_path / "b.wav").frames == 4000
    assert not (tmp_path / "bad.wav").exists()
    lines = run("info", first, second, "--json", "--quiet").stdout.splitlines()
    assert [json.loads(line)["file"] for line in lines] == [str(first), str(second)]


def test_options_that_change_nothing_are_refused_or_noted(files, tmp_path, capsys):
    """--model fits nothing and has its own quality: -q or fit options with it are
    refused. The filterbank path fits nothing by gradient: --iterations, --seed and
    --device change no byte, and a note says so."""
    model = tmp_path / "artist.saem"
    assert main(["train-artist", str(files["wav"]), "-o", str(model), "--quiet"]) == 0
    for option in (["-q", "3"], ["--iterations", "50"], ["--seed", "3"], ["--bitrate", "9"]):
        result = run("compress", files["wav"], "--model", model, "-o", tmp_path / "m.sae", *option)
        assert result.returncode == 2 and "no effect with --model" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    capsys.readouterr()
    assert main(["compress", str(files["wav"]), "-o", str(tmp_path / "plain.sae"), *FAST]) == 0
    assert capsys.readouterr().err == ""
    fitted = ["--iterations", "50", "--seed", "3", "--device", "cpu"]
    assert main(["compress", str(files["wav"]), "-o", str(tmp_path / "fit.sae"), *fitted]) == 0
    assert capsys.readouterr().err.strip() == (
        "sae: note: --iterations and --seed and --device have no effect on the filterbank "
        "path, which fits nothing by gradient"
    )
    assert (tmp_path / "plain.sae").read_bytes() == (tmp_path / "fit.sae").read_bytes()


def test_the_note_depends_on_whether_the_path_fits_by_gradient(capsys):
    """Asked of the coding path, not of the option: a path that fits by gradient (the
    learned one) uses the options, and no note is given."""

    class Learned:
        name, fits_by_gradient = "learned", True

    args = type("Args", (), {"iterations": 50, "seed": 3, "device": None})()
    assert commands.fits_by_gradient(Learned()) and not commands.fits_by_gradient(object())
    settings = commands.settings_of(args, commands.fits_by_gradient(Learned()), "learned")
    assert settings == FitSettings(iterations=50, seed=3) and capsys.readouterr().err == ""
    commands.settings_of(args, False, "the filterbank path")
    assert "--iterations and --seed have no effect" in capsys.readouterr().err


def test_the_container_doctest_runs_as_documented():
    result = subprocess.run([sys.executable, "-m", "doctest", "bitstream/container.py"],
                            capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_the_quality_range_is_the_codecs():
    """The CLI checks -q before importing the codec, so it keeps a copy of its range."""
    from codec import cli, rate

    assert cli.QUALITY_RANGE == rate.QUALITY_RANGE


def test_compress_score_prints_the_visqol_mos_of_the_written_file(tmp_path, capsys, monkeypatch):
    wav = tmp_path / "song.wav"
    sf.write(wav, synthetic_stereo(seconds=1.5), 8000)
    assert main(["compress", str(wav), "--score", *FAST]) == 0
    line = capsys.readouterr().out
    found = re.search(r"SNR [\d.]+ dB \(decoded from the file\), ViSQOL MOS (\d\.\d\d), ", line)
    assert found and 1 <= float(found[1]) <= 4.75, line
    assert "middle" not in line  # shorter than the window: all of it is scored

    # to standard output: the same bytes, once scored; the line on stderr
    piped = run("compress", wav, "-o", "-", "--score", *FAST, text=False)
    assert piped.returncode == 0 and piped.stdout == wav.with_suffix(".sae").read_bytes()
    assert f"ViSQOL MOS {found[1]}".encode() in piped.stderr

    short = tmp_path / "short.wav"  # too short to score: a note, and the line without it
    sf.write(short, synthetic_stereo(seconds=0.5), 8000)
    assert main(["compress", str(short), "--score", *FAST]) == 0
    out, err = capsys.readouterr()
    assert "MOS" not in out and "no ViSQOL MOS: ViSQOL needs at least 1 s of audio" in err

    monkeypatch.setattr("codec.perceptual.MODULE", "visqol_not_installed")
    with pytest.raises(SystemExit) as exited:  # before any work: nothing is written
        main(["compress", str(wav), "-o", str(tmp_path / "never.sae"), "--score", *FAST])
    assert exited.value.code == 2 and not (tmp_path / "never.sae").exists()
    assert capsys.readouterr().err == (
        "sae compress: error: --score: the ViSQOL score needs the visqol-python package (pip "
        "install visqol-python) (see sae compress --help)\n"
    )
