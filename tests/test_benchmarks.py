import csv
import json

import numpy as np
import pytest
import soundfile as sf

from benchmarks import mdct, rd
from benchmarks.artist import main as artist_main
from benchmarks.envelope import _conditional_entropy, charged_oracle_curve
from benchmarks.metrics import aligned_snr, bd_rate, bd_snr, snr_at
from benchmarks.oracle import oracle_curve
from benchmarks.rd import main, scorer_key
from benchmarks.report import write_report
from codec.cluster import connect
from tests.helpers import synthetic_stereo


@pytest.fixture(scope="module")
def scheduler() -> str:
    """A running cluster's address, for the benchmark runs of this module: its worker
    imports sae once, not once a run."""
    with connect(1, None) as cluster:
        yield cluster.client.scheduler.address


def read_points(out) -> list[dict]:
    with open(out / "points.csv") as handle:
        return list(csv.DictReader(handle))


def test_mdct_ec_decodes_exactly_what_it_quantized():
    audio = synthetic_stereo(seconds=1, rate=16000).astype(np.float64)
    for step in (0.001, 0.02):
        data = mdct.encode(audio, step)
        np.testing.assert_array_equal(mdct.decode(data), mdct.reconstruct(audio, step))
    assert len(mdct.encode(audio, 0.001)) > len(mdct.encode(audio, 0.02))


def test_mdct_ec_codes_mono_silence_and_large_magnitudes_exactly():
    audio = synthetic_stereo(seconds=1, rate=16000).astype(np.float64)
    for signal, step in ((audio[:, :1], 0.01), (np.zeros((3000, 2)), 0.01), (audio, 1e-5)):
        data = mdct.encode(signal, step)
        np.testing.assert_array_equal(mdct.decode(data), mdct.reconstruct(signal, step))
    with pytest.raises(ValueError, match="too small"):
        mdct.encode(audio, 1e-9)


def test_aligned_snr_finds_the_codec_delay():
    audio = synthetic_stereo(seconds=1)
    late = np.concatenate([np.zeros((313, 2)), audio])[: len(audio)] * 0.999
    snr, lag = aligned_snr(audio, late)
    assert lag == 313 and snr == pytest.approx(60, abs=0.5)


def test_bjontegaard_deltas_of_shifted_curves():
    bits = np.array([0.25, 0.5, 1, 2, 4, 8])
    snr = 10 + 6 * np.log2(bits)
    assert bd_snr(bits, snr, bits, snr + 1.5) == pytest.approx(1.5)
    assert bd_rate(bits, snr, bits * 0.8, snr) == pytest.approx(-20)
    assert bd_snr(bits, snr, bits, snr, window=(16, 32)) is None  # no overlap
    assert snr_at(bits, snr, 16) is None and snr_at(bits, snr, 2) == pytest.approx(16)


def test_oracle_is_a_monotone_curve():
    bits, snr = oracle_curve(synthetic_stereo(), [1e-2, 1e-4, 1e-6])
    assert np.all(np.diff(bits) > 0) and np.all(np.diff(snr) > 0)


def test_the_charged_oracle_pays_for_its_envelope_within_its_raw_bits():
    audio = synthetic_stereo()
    charged = charged_oracle_curve(audio, [1e-2, 1e-4, 1e-6])
    free, _ = oracle_curve(audio, [1e-2, 1e-4, 1e-6])
    # more bits than the oracle, by no more than its 64 symbols a frame could cost raw
    frames = len(audio) / 1024
    assert np.all(charged > free) and np.all(charged - free < 2 * frames * 64 * 8 / audio.size)


def test_the_envelope_is_priced_by_its_conditional_entropy():
    # a symbol that copies its context costs nothing; a fair coin within a context, a bit
    contexts = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    assert _conditional_entropy(contexts, contexts) == 0
    assert _conditional_entropy(np.array([0, 1, 0, 1, 5, 6, 5, 6]), contexts) == 8


def test_benchmark_writes_its_outputs_and_reuses_its_cache(tmp_path, scheduler):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sf.write(corpus / "track0.wav", synthetic_stereo(), 8000)
    out = tmp_path / "out"
    args = ["--corpus", str(corpus), "--out", str(out), "--excerpt", "1", "--scheduler", scheduler]
    assert main([*args, "--methods", "mdct", "flac", "oracle"]) == 0
    rows = read_points(out)
    assert {r["method"] for r in rows} == {"mdct", "flac", "oracle"}
    assert all(float(r["excerpt_seconds"]) == 1.0 for r in rows)
    for name in ("summary.md", "rd.png", "rd_tracks.png", "mos.png"):
        assert (out / name).stat().st_size > 0
    summary = (out / "summary.md").read_text()
    assert "FLAC" in summary and "(ViSQOL MOS 4.73)" in summary  # lossless scores the top
    # a MOS for what decodes audio, none for the oracle; more bits, a higher MOS
    assert all((r["visqol"] == "") == (r["method"] == "oracle") for r in rows)
    mdct = sorted((float(r["bits_per_sample"]), float(r["visqol"])) for r in rows
                  if r["method"] == "mdct" and r["track"] == "track0")  # fmt: skip
    assert mdct[-1][1] > mdct[0][1]
    table = summary.split("## ViSQOL MOS at a given rate")[1].split("##")[0]
    assert "| MDCT+EC (MSE transform codec) | " in table and "oracle" not in table

    cached = next((out / "cache").glob("track0__flac__*.json"))
    row = json.loads(cached.read_text())
    row["bits_per_sample"] = 99.0  # a re-run must read this back, not recompute
    cached.write_text(json.dumps(row))
    assert main([*args, "--methods", "flac"]) == 0
    rows = read_points(out)
    assert 99.0 in [float(r["bits_per_sample"]) for r in rows if r["track"] == "track0"]


def test_artist_benchmark_codes_every_track_three_ways(tmp_path):
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    for artist in ("a", "b"):
        for seed in range(2):
            audio = synthetic_stereo(seconds=1, seed=seed + 2 * (artist == "b"))
            sf.write(corpus / f"{artist}-song{seed}.wav", audio, 8000)
    args = ["--corpus", corpus, "--out", out, "--excerpt", "1", "--iterations", "2"]
    assert artist_main([str(a) for a in args]) == 0
    rows = json.loads((out / "artist.json").read_text())
    assert len(rows) == 4 and {r["artist"] for r in rows} == {"a", "b"}
    for row in rows:
        assert row["per_song"]["model_bytes_in_file"] > 0
        assert row["artist_loo"]["model_bytes_in_file"] == 0  # the file names its model
        assert row["artist_loo"]["shared_by"] == 2 and row["other_artist"]["shared_by"] == 3
        assert all(row[k]["snr_db"] > 10 for k in ("per_song", "artist_loo", "other_artist"))
    assert "break-even" in (out / "artist.md").read_text()


def test_a_new_scorer_scores_again_without_coding_again(tmp_path, monkeypatch, scheduler):
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    sf.write(corpus / "track.wav", synthetic_stereo(seconds=1.5), 8000)
    args = ["--corpus", str(corpus), "--out", str(out), "--excerpt", "1.2", "--methods", "flac",
            "--scheduler", scheduler]  # fmt: skip
    assert main(args) == 0
    cached = next((out / "cache").glob("track__flac__*.json"))
    row = json.loads(cached.read_text())
    assert row["visqol"] == pytest.approx(4.73, abs=0.01) and row["visqol_key"] == scorer_key()
    row["bits_per_sample"] = 99.0  # coding again would put the real size back
    cached.write_text(json.dumps(row))

    monkeypatch.setattr(rd, "scorer_key", lambda: "a new scorer")
    assert main(args) == 0
    row = json.loads(cached.read_text())
    assert row["visqol_key"] == "a new scorer" and row["bits_per_sample"] == 99.0
    assert row["visqol"] == pytest.approx(4.73, abs=0.01)

    next((out / "cache" / "decoded").glob("track__flac__*.npy")).unlink()
    monkeypatch.setattr(rd, "scorer_key", lambda: "another scorer")
    assert main(args) == 0  # without the kept audio, the row is coded again
    row = json.loads(cached.read_text())
    assert row["visqol_key"] == "another scorer" and row["bits_per_sample"] < 16


def test_the_mos_table_interpolates_per_track_and_never_extrapolates(tmp_path):
    rows = []
    for track, shift in (("a", 0.0), ("b", 0.2)):
        for bits, mos in ((0.25, 2.0), (0.5, 3.0), (1.0, 4.0)):
            rows.append({"track": track, "method": "opus", "setting": bits, "lag": 0,
                         "bits_per_sample": bits * (1 + shift), "snr_db": 10 * mos,
                         "visqol": mos, "encode_seconds": 1.0, "decode_seconds": 1.0,
                         "excerpt_seconds": 1.0})  # fmt: skip
    write_report(rows, tmp_path, 1.0)
    table = (tmp_path / "summary.md").read_text().split("## ViSQOL MOS at a given rate")[1]
    # MOS linear in log rate: 0.25 only on track a (b starts at 0.3); 0.5 and 1 both,
    # b at 4 + log2(rate / 1.2); 2 on neither
    assert "| Opus at 48 kHz (perceptual) | 2.00 (1) | 2.87 | 3.87 | — |" in table
    assert (tmp_path / "mos.png").stat().st_size > 0
