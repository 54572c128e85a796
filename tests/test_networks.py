import numpy as np
import torch

from codec.networks import (
    BLOCK_STEPS,
    PostAutoencoder,
    analyse,
    decode_latents,
    filterbank_decoder,
    run_blockwise,
)
from codec.pqmf import CODED_CHANNELS, STRIDE, pqmf_basis
from tests.helpers import boundary_and_middle_error


def test_post_architecture():
    network = PostAutoencoder()
    convs = [m for m in network.encoder if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (2, 32, 4, 2),
        (32, 64, 4, 2),
    ]
    assert isinstance(network.encoder[-1], torch.nn.ReLU)
    latents = run_blockwise(network.encoder, torch.randn(2, 4096), 1024, 16, 1 / STRIDE)
    assert latents.shape == (64, 4096 // STRIDE)  # 64 channels at a quarter rate


def test_pqmf_bands_are_sharp_and_power_complementary():
    filters = pqmf_basis()  # (64 taps, 4 bands)
    response = np.abs(np.fft.rfft(filters, 4096, axis=0)) ** 2  # 2049 bins over 0..pi
    width = 512  # bins per band
    for band in range(4):  # leakage beyond a quarter band from the band's edges
        low, high = max(0, band * width - width // 4), (band + 1) * width + width // 4
        assert response[low : high + 1, band].sum() > 0.999 * response[:, band].sum()
    total = response.sum(axis=1) / response.sum(axis=1).mean()
    assert np.all(np.abs(total[20:-20] - 1) < 0.05)  # flat overall


def test_the_analysis_is_critically_sampled_and_the_decoder_inverts_it():
    audio = np.random.default_rng(0).standard_normal((2, 8192)).astype(np.float32)
    latents = analyse(audio)
    assert latents.shape == (CODED_CHANNELS, 8192 // STRIDE)  # 2 values per stereo frame
    assert np.isclose(np.sum(latents**2), np.sum(audio.astype(np.float64) ** 2), rtol=0.01)
    decoded = decode_latents(filterbank_decoder(), latents.astype(np.float32))
    error = (decoded - audio)[:, 256:-256]
    assert np.sum(error**2) < 1e-11 * np.sum(audio[:, 256:-256] ** 2)  # beyond 110 dB


def test_blocks_match_one_pass_over_the_whole_track():
    torch.manual_seed(0)
    decoder = filterbank_decoder()
    latents = torch.randn(CODED_CHANNELS, 4000)
    context = 25
    whole = decoder(torch.nn.functional.pad(latents, (context, context))[None])[0]
    whole = whole[:, STRIDE * context : -STRIDE * context].detach()
    blocks = run_blockwise(decoder, latents, 29, context, STRIDE)
    torch.testing.assert_close(blocks, whole)
    assert BLOCK_STEPS > 4000  # the codec's own blocks hold this whole track


def test_block_edges_are_no_worse_than_the_middle(stereo):
    """The post's edge sag is gone: samples at internal block boundaries decode as well as
    those in the middle, while coding each block on its own (the post's 'SAME' padding)
    does show the sag, so the measurement can tell the difference."""
    audio = (stereo / np.sqrt(np.mean(stereo**2))).T.copy()
    audio = audio[:, : audio.shape[1] // 256 * 256]
    step = 0.05  # quantized latents, as the codec decodes them
    latents = np.round(analyse(audio) / step).astype(np.float32) * step
    decoder = filterbank_decoder()
    decoded = run_blockwise(decoder, torch.from_numpy(latents), 64, 25, STRIDE).numpy()
    edges, middle = boundary_and_middle_error(decoded - audio, 256)
    assert edges <= 1.1 * middle

    with torch.no_grad():  # each block of 64 latents alone, zero-padded at its edges
        pieces = torch.from_numpy(latents).reshape(CODED_CHANNELS, -1, 64).transpose(0, 1)
        alone = decoder(pieces).transpose(0, 1).reshape(2, -1).numpy()
    alone_edges, alone_middle = boundary_and_middle_error(alone - audio, 256)
    assert alone_edges > 3 * alone_middle
