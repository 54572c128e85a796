"""A catalogue through a real Dask cluster on 127.0.0.1 (no mocks): folders in, outputs
mirrored, skipped when complete, the same bytes as a plain compress, a bad file one line,
and a worker killed mid-track."""

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec import compress_file, decompress_file
from codec.cluster import MMAP_THRESHOLD, NO_DASHBOARD, connect
from tests.helpers import TINY_PATH, run, sae_command, sae_env, synthetic_stereo


@pytest.fixture(scope="module")
def scheduler():
    """A cluster of two worker processes, as `dask scheduler` and `dask worker` make one:
    the command reaches it by address."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.CRITICAL,
                           scheduler_kwargs=NO_DASHBOARD)  # fmt: skip
    with cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        yield cluster.scheduler_address


@pytest.fixture
def catalogue(tmp_path) -> Path:
    """Three tracks in two folders, one broken file, and a finished output."""
    music = tmp_path / "music"
    (music / "b-side").mkdir(parents=True)
    sf.write(music / "one.wav", synthetic_stereo(seconds=1.0, seed=1), 8000)
    sf.write(music / "b-side" / "two.flac", synthetic_stereo(seconds=1.5, seed=2), 8000)
    sf.write(music / "b-side" / "mono.wav", synthetic_stereo(seconds=0.5, seed=3)[:, 0], 8000)
    (music / "broken.wav").write_bytes(b"RIFF but not audio")
    (music / "notes.txt").write_text("not a track")  # not audio: not a file of the batch
    return music


def plain(source: Path, target: Path) -> bytes:
    """The .sae bytes of a plain compress in this process."""
    compress_file(source, target)
    return target.read_bytes()


def test_a_catalogue_through_a_running_cluster(scheduler, catalogue, tmp_path):
    out, decoded = tmp_path / "out", tmp_path / "decoded"
    out.mkdir()
    decoded.mkdir()
    (out / "b-side").mkdir()
    before = plain(catalogue / "b-side" / "mono.wav", out / "b-side" / "mono.sae")
    manifest = tmp_path / "catalogue.json"
    args = ("compress", catalogue, "-o", out, "--scheduler", scheduler, "--manifest", manifest)
    first = run(*args)
    assert first.returncode == 1, first.stderr
    assert first.stderr.splitlines() == [
        f"sae: error: Error opening '{catalogue}/broken.wav': Format not recognised.",
        "sae: error: 1 of 4 files failed",
    ]
    *lines, summary = first.stdout.splitlines()
    assert sorted(line.split(":")[0] for line in lines) == [
        f"[2/4] {out}/one.sae",  # numbered as the inputs: a folder's files, then its folders'
        f"[3/4] {out}/b-side/mono.sae",
        f"[4/4] {out}/b-side/two.sae",
    ]
    assert f"[3/4] {out}/b-side/mono.sae: complete, skipped (" in first.stdout
    assert summary.startswith("sae: 4 files: 2 compressed, 1 skipped (complete), 1 failed; ")
    assert "x real time on 2 workers" in summary
    assert (out / "b-side" / "mono.sae").read_bytes() == before
    for name in ("one", "b-side/two"):  # the same bytes as a plain compress here
        source = next(catalogue.glob(f"{name}.*"))
        assert (out / f"{name}.sae").read_bytes() == plain(source, tmp_path / "plain.sae")
        (tmp_path / "plain.sae").unlink()
    assert not (out / "broken.sae").exists() and not list(out.rglob(".*"))

    records = {Path(r["input"]).name: r for r in json.loads(manifest.read_text())["files"]}
    assert {name: r["status"] for name, r in records.items()} == {
        "broken.wav": "failed", "one.wav": "done", "mono.wav": "skipped",
        "two.flac": "done"}  # fmt: skip
    one = records["one.wav"]
    assert one["bytes"] == (out / "one.sae").stat().st_size and one["snr_db"] > 20
    assert one["bits_per_sample"] == pytest.approx(8 * one["bytes"] / 16000)
    assert one["seconds"] > 0 and one["worker"].startswith("tcp://127.0.0.1:")
    assert "Format not recognised" in records["broken.wav"]["error"]

    stamps = {path: path.stat().st_mtime_ns for path in out.rglob("*.sae")}
    again = run(*args)  # a second run skips what is finished: nothing is written again
    assert again.returncode == 1 and again.stdout.count("complete, skipped") == 3
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*.sae")} == stamps
    kept = {Path(r["input"]).name: r for r in json.loads(manifest.read_text())["files"]}
    assert kept["one.wav"]["status"] == "skipped" and kept["one.wav"]["snr_db"] == one["snr_db"]

    (out / "broken.sae").write_bytes(b"SAE\x1a but cut")  # a damaged file among them
    sf.write(decoded / "one.wav", np.zeros((100, 2)), 8000)  # not a complete decoding
    back = run("decompress", out, "-o", decoded, "--scheduler", scheduler)
    assert back.returncode == 1 and back.stdout.count("frames, ") == 2
    errors = back.stderr.splitlines()
    assert len(errors) == 3 and errors[-1] == "sae: error: 2 of 4 files failed"
    assert f"{decoded}/one.wav exists but is not a complete decoding" in back.stderr
    assert f"{out}/broken.sae: " in back.stderr
    decompress_file(out / "b-side" / "two.sae", tmp_path / "plain.wav")
    np.testing.assert_array_equal(sf.read(decoded / "b-side" / "two.wav")[0],
                                  sf.read(tmp_path / "plain.wav")[0])  # fmt: skip
    assert sf.info(decoded / "b-side" / "mono.wav").channels == 1


def test_an_incomplete_output_is_not_replaced_without_force(scheduler, catalogue, tmp_path):
    """Only a complete output is skipped; one that is not is a failure until -f."""
    (catalogue / "broken.wav").unlink()
    cut = catalogue / "one.sae"
    cut.write_bytes(plain(catalogue / "one.wav", tmp_path / "one.sae")[:-5])
    result = run("compress", catalogue, "--scheduler", scheduler, "--quiet")
    assert result.returncode == 1
    error, last = result.stderr.splitlines()
    assert error.startswith(f"sae: error: {cut} exists but is not a complete .sae file (")
    assert error.endswith("): -f codes it again") and "truncated" in error
    assert last == "sae: error: 1 of 3 files failed"
    assert "2 compressed, 0 skipped (complete), 1 failed" in result.stdout
    forced = run("compress", catalogue / "one.wav", "--scheduler", scheduler, "-f")
    assert forced.returncode == 0 and "1 compressed" in forced.stdout
    assert cut.read_bytes() == (tmp_path / "one.sae").read_bytes()


def test_a_killed_worker_s_track_is_run_again_and_complete(scheduler, tmp_path):
    """SIGKILL the worker writing a track: Dask runs it again on a worker, whose output is
    complete and byte for byte that of a plain compress; the killed one's temporary file
    is removed."""
    song = tmp_path / "long.wav"
    sf.write(song, synthetic_stereo(seconds=30, seed=4), 8000)
    process = subprocess.Popen(sae_command("compress", song, "--scheduler", scheduler),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=sae_env())  # fmt: skip
    deadline, killed = time.monotonic() + 60, None
    while killed is None:
        assert process.poll() is None and time.monotonic() < deadline
        for name in os.listdir(tmp_path):
            match = re.fullmatch(r"\.long\.sae\.(\d+)-\w+\.part\.sae", name)
            if match:  # the worker writing it: its process id names the temporary file
                killed = int(match.group(1))
                os.kill(killed, signal.SIGKILL)
        time.sleep(0.005)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0 and stderr == "", stderr
    assert "1 compressed, 0 skipped (complete), 0 failed" in stdout
    assert sorted(os.listdir(tmp_path)) == ["long.sae", "long.wav"]
    expected = compress_file(song, tmp_path / "plain.sae")
    assert (tmp_path / "long.sae").read_bytes() == (tmp_path / "plain.sae").read_bytes()
    assert expected.frames == 240000


def test_folders_are_opened_for_every_command(catalogue, tmp_path):
    """The files a folder holds, at any depth, sorted; hidden ones left out."""
    from codec.usage import AUDIO_SUFFIXES, files_in

    (catalogue / ".one.sae.123-abc.part.wav").write_bytes(b"")  # a run's temporary file
    found = files_in(catalogue, AUDIO_SUFFIXES)
    found = [path.relative_to(catalogue).as_posix() for path in found]
    assert found == ["broken.wav", "one.wav", "b-side/mono.wav", "b-side/two.flac"]
    compress_file(catalogue / "one.wav", tmp_path / "one.sae", path=TINY_PATH)
    info = run("info", tmp_path, "--json")
    assert info.returncode == 0 and json.loads(info.stdout)["file"] == str(tmp_path / "one.sae")


def test_one_file_is_coded_here_without_a_cluster(tmp_path):
    """Dask is imported only for a batch: one file is coded in this process."""
    song = tmp_path / "song.wav"
    sf.write(song, synthetic_stereo(seconds=0.25), 8000)
    code = ("import sys; from codec.cli import main; main(['compress', sys.argv[1], '--quiet']);"
            "print('distributed' in sys.modules, 'dask' in sys.modules)")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code, str(song)], capture_output=True,
                            text=True, env=sae_env())  # fmt: skip
    assert result.stdout.splitlines()[-1] == "False False", result.stderr


def test_workers_started_here_take_large_arrays_from_the_heap(monkeypatch):
    """Dask's workers have glibc map every array above 128 kB (its MALLOC_TRIM_THRESHOLD_
    fixes that threshold), which made them code 1.7 times slower than a shell's process:
    the workers sae starts raise it to 32 MiB, where a shell's process gets by itself."""
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    with connect(1, None) as cluster:
        found = cluster.client.run(lambda: __import__("os").environ.get("MALLOC_MMAP_THRESHOLD_"))
    assert list(found.values()) == [str(MMAP_THRESHOLD)]
