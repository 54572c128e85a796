"""The ``sae`` command among other programs: pipes, logs and terminals, the input's
sample format and tags, signals, and rate targets it cannot meet."""

import fcntl
import io
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec.cli import main
from tests.helpers import run, sae_command, sae_env, synthetic_stereo


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A song as 24-bit FLAC with tags, the same as 16-bit WAV, and its .sae file."""
    folder = tmp_path_factory.mktemp("io")
    audio = synthetic_stereo(seconds=0.5)
    with sf.SoundFile(folder / "song.flac", "w", 8000, 2, "PCM_24") as song:
        song.title, song.artist, song.album = "Feelings", "Sectoid", "Ölü"
        song.write(audio)
    sf.write(folder / "song.wav", audio, 8000)
    assert main(["compress", str(folder / "song.flac"), "--quiet"]) == 0
    return folder


def test_pipes_in_and_out(folder, tmp_path):
    """cat a.flac | sae compress - > a.sae; sae compress a.flac -o - | sae decompress - > a.wav:
    data on stdout, the summary on stderr, no file named '-'."""
    expected = (folder / "song.sae").read_bytes()
    piped = run("compress", "-", input=(folder / "song.flac").read_bytes(), text=False,
                cwd=tmp_path)  # fmt: skip
    assert piped.returncode == 0 and piped.stdout == expected
    # stderr is not a terminal: the summary line, no progress bars (before: 557 lines)
    assert piped.stderr.startswith(b"standard output: ") and piped.stderr.count(b"\n") == 1
    assert b"\r" not in piped.stderr and b"SNR" in piped.stderr
    named = run("compress", folder / "song.flac", "-o", "-", text=False, cwd=tmp_path)
    assert named.stdout == expected
    decoded = run("decompress", "-", input=expected, text=False, cwd=tmp_path)
    assert decoded.returncode == 0 and b"standard output: 4000 frames" in decoded.stderr
    audio, _ = sf.read(io.BytesIO(decoded.stdout), dtype="float32")
    with sf.SoundFile(io.BytesIO(decoded.stdout)) as wav:
        assert wav.format == "WAV" and wav.subtype == "PCM_24" and wav.title == "Feelings"
    assert os.listdir(tmp_path) == []
    assert main(["decompress", str(folder / "song.sae"), "-o", str(tmp_path / "back.wav")]) == 0
    np.testing.assert_array_equal(audio, sf.read(tmp_path / "back.wav", dtype="float32")[0])


def test_data_is_never_read_from_or_written_to_a_terminal(folder):
    leader, follower = pty.openpty()
    for args in (["compress", folder / "song.wav", "-o", "-"], ["decompress", "-"]):
        result = run(*args, stdin=subprocess.DEVNULL, stdout=follower, stderr=subprocess.PIPE,
                     capture_output=False)  # fmt: skip
        assert result.returncode == 2 and "standard output is a terminal" in result.stderr
    for command in ("compress", "decompress", "info"):
        result = run(command, "-", stdin=follower)
        assert result.returncode == 2 and "standard input is a terminal" in result.stderr
    os.close(follower)
    os.close(leader)


def on_a_terminal(*args) -> tuple[int, str, str]:
    """Run sae with stderr on a pseudo-terminal of 100 columns: (exit code, stdout, what
    the terminal showed)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(sae_command(*args), stdout=subprocess.PIPE, stderr=follower,
                               env=sae_env())  # fmt: skip
    os.close(follower)
    shown = []

    def read() -> None:
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the terminal closed
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    stdout = process.stdout.read().decode()
    code = process.wait()
    reader.join(timeout=30)
    os.close(leader)
    return code, stdout, b"".join(shown).decode(errors="replace")


def test_a_batch_on_a_terminal_shows_files_done_and_time_left(folder, tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.wav").write_bytes((folder / "song.wav").read_bytes())
    code, stdout, shown = on_a_terminal("compress", *sorted(tmp_path.glob("*.wav")), "-j", "1")
    *lines, summary = stdout.splitlines()
    assert code == 0 and [line[:6] for line in lines] == ["[1/2] ", "[2/2] "]
    assert summary.startswith("sae: 2 files: 2 compressed, 0 skipped (complete), 0 failed; ")
    assert "files:" in shown and "1/2 [" in shown and "<00:" in shown  # done, and time left


def test_the_sample_format_and_tags_come_back(folder, tmp_path, capsys):
    """Before: 24-bit and float inputs decoded as 16-bit, and the tags were dropped."""
    sae = folder / "song.sae"
    assert main(["info", str(sae)]) == 0
    info = capsys.readouterr().out
    assert "sample_format           24-bit" in info
    assert "tag title               Feelings" in info and "Ölü" in info
    out = tmp_path / "out.flac"
    assert run("decompress", sae, "-o", out).returncode == 0
    with sf.SoundFile(out) as decoded:
        assert decoded.subtype == "PCM_24" and decoded.copy_metadata() == {
            "title": "Feelings", "artist": "Sectoid", "album": "Ölü"}  # fmt: skip
    refused = run("decompress", sae, "-o", tmp_path / "float.flac", "--bits", "float")
    assert refused.returncode == 2 and "FLAC cannot hold FLOAT samples" in refused.stderr
    for bits, subtype in (("16", "PCM_16"), ("float", "FLOAT")):
        target = tmp_path / f"out{bits}.wav"
        assert main(["decompress", str(sae), "-o", str(target), "--bits", bits]) == 0
        assert sf.info(target).subtype == subtype
    floats = tmp_path / "float.wav"
    sf.write(floats, 3 * synthetic_stereo(seconds=0.25), 8000, subtype="FLOAT")
    assert main(["compress", str(floats), "--quiet"]) == 0
    assert main(["decompress", str(tmp_path / "float.sae"), "-o", str(tmp_path / "back.wav")]) == 0
    back, _ = sf.read(tmp_path / "back.wav")
    assert sf.info(tmp_path / "back.wav").subtype == "FLOAT" and np.abs(back).max() > 1.2


def test_tags_too_large_are_left_out_with_a_note(tmp_path, capsys):
    song = tmp_path / "long-tags.wav"
    with sf.SoundFile(song, "w", 8000, 2) as out:
        out.title, out.comment = "Short", "x" * 2000
        out.write(synthetic_stereo(seconds=0.25))
    result = run("compress", song, "--quiet")
    assert result.returncode == 0 and "tags too large to record were left out" in result.stderr
    assert "comment" in result.stderr and len(result.stderr.splitlines()) == 1
    assert main(["info", str(song.with_suffix(".sae"))]) == 0
    assert "tag title               Short" in capsys.readouterr().out


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_as_ctrl_c_does(tmp_path, how):
    """Before: timeout -s TERM left .song.sae.XXXX.part.sae behind."""
    source = tmp_path / "song.wav"
    sf.write(source, synthetic_stereo(seconds=60), 8000)  # long enough to be caught at work
    process = subprocess.Popen(sae_command("compress", source), stderr=subprocess.PIPE,
                               text=True, env=sae_env())  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(name.startswith(".song.sae.") for name in os.listdir(tmp_path)):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)  # until the output is being written (its temporary file exists)
    process.send_signal(how)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + how
    assert stderr.strip() == f"sae: interrupted ({how.name}); no output was written"
    assert sorted(os.listdir(tmp_path)) == ["song.wav"]


def test_stale_temporary_files_are_cleaned_up_on_the_next_run(tmp_path):
    """A killed run's temporary file (its process gone) is removed when the same output
    is written again; a running process's is left alone."""
    source = tmp_path / "song.wav"
    sf.write(source, synthetic_stereo(seconds=0.25), 8000)
    gone = _dead_pid()
    stale = tmp_path / f".song.sae.{gone}-abc123.part.sae"
    running = tmp_path / f".song.sae.{os.getpid()}-def456.part.sae"
    other = tmp_path / f".other.sae.{gone}-abc123.part.sae"  # another output's
    for path in (stale, running, other):
        path.write_bytes(b"partial")
    assert main(["compress", str(source), "--quiet"]) == 0
    assert not stale.exists() and running.exists() and other.exists()


def _dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_an_interrupted_batch_says_which_outputs_it_kept(tmp_path):
    small, large = tmp_path / "small.wav", tmp_path / "large.wav"
    sf.write(small, synthetic_stereo(seconds=0.25), 8000)
    sf.write(large, synthetic_stereo(seconds=60), 8000)
    process = subprocess.Popen(sae_command("compress", small, large, "--quiet", "-j", "2"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=sae_env())  # fmt: skip
    assert process.stdout.readline().startswith(f"[1/2] {tmp_path}/small.sae: ")  # finished
    deadline = time.monotonic() + 60
    while not any(name.startswith(".large.sae.") for name in os.listdir(tmp_path)):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    kept = f"1 finished output kept ({tmp_path}/small.sae), nothing else written"
    assert stderr.strip() == f"sae: interrupted; {kept}"
    assert sorted(os.listdir(tmp_path)) == ["large.wav", "small.sae", "small.wav"]


def test_a_rate_target_out_of_reach_is_said_and_stays_in_range(tmp_path, capsys):
    """Before: --bitrate 2000 ran to quality 32 and wrote a file larger and worse than
    -q 24's; --bitrate 1 landed 35 % over without a word."""
    song = tmp_path / "song.wav"
    sf.write(song, synthetic_stereo(seconds=0.5), 8000)
    assert main(["compress", str(song), "-q", "24", "-o", str(tmp_path / "top.sae")]) == 0
    high = run("compress", song, "--bitrate", "2000", "-o", tmp_path / "high.sae", "--quiet")
    assert high.returncode == 0
    assert (tmp_path / "high.sae").stat().st_size <= (tmp_path / "top.sae").stat().st_size
    capsys.readouterr()
    assert main(["compress", str(song), "--bitrate", "1", "-o", str(tmp_path / "low.sae")]) == 0
    for stderr, asked in ((high.stderr, "2000 kbps"), (capsys.readouterr().err, "1 kbps")):
        assert stderr.startswith(f"sae: note: {song}: {asked} could not be met within "
                                 "quality 0 to 24")  # fmt: skip
        assert len(stderr.splitlines()) == 1


def test_the_readme_snippet_works_on_a_mono_song(tmp_path):
    """Before: snr_db of (N,) against (N, 1) broadcast to N x N: a wrong figure, or out of
    memory."""
    song = tmp_path / "mono.flac"
    sf.write(song, synthetic_stereo(seconds=0.5)[:, 0], 8000)
    snippet = (
        "import soundfile as sf\nimport codec\n"
        f"audio, rate = sf.read({str(song)!r})\n"
        "data = codec.compress(audio, rate, quality=7)\n"
        "decoded, rate = codec.decompress(data)\n"
        "print(audio.shape, decoded.shape, round(codec.snr_db(audio, decoded), 1))\n"
    )
    result = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True,
                            env=sae_env())  # fmt: skip
    shapes, snr = result.stdout.rsplit(" ", 1)
    assert result.returncode == 0 and shapes == "(4000,) (4000, 1)" and 15 < float(snr) < 60
