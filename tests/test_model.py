import numpy as np
import pytest
import torch

from codec.model import (
    FILTERBANK_CHANNELS,
    STRIDE,
    Autoencoder,
    ModelConfig,
    decode_track,
    encode_track,
    filterbank_init,
    pqmf_basis,
)


def test_latents_are_64_channels_at_a_quarter_rate():
    model = Autoencoder(ModelConfig())
    latents = encode_track(model, torch.randn(2, 4096))
    assert latents.shape == (64, 4096 // STRIDE)
    assert decode_track(model, latents).shape == (2, 4096)


def test_post_architecture():
    model = Autoencoder(ModelConfig.of_post())
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (2, 32, 4, 2),
        (32, 64, 4, 2),
    ]
    assert isinstance(model.encoder[-1], torch.nn.ReLU)


def test_pqmf_bands_are_sharp_and_power_complementary():
    filters = pqmf_basis().numpy()  # (64 taps, 4 bands)
    response = np.abs(np.fft.rfft(filters, 4096, axis=0)) ** 2  # 2049 bins over 0..pi
    width = 512  # bins per band
    for band in range(4):  # leakage beyond a quarter band from the band's edges
        low, high = max(0, band * width - width // 4), (band + 1) * width + width // 4
        assert response[low : high + 1, band].sum() > 0.999 * response[:, band].sum()
    total = response.sum(axis=1) / response.sum(axis=1).mean()
    assert np.all(np.abs(total[20:-20] - 1) < 0.05)  # flat overall


def test_filterbank_init_is_critically_sampled_and_inverts_itself():
    model = Autoencoder(ModelConfig(), decoder_inputs=FILTERBANK_CHANNELS)
    filterbank_init(model)
    audio = torch.randn(2, 8192)
    latents = encode_track(model, audio)
    assert not latents[FILTERBANK_CHANNELS:].any()  # 8 of 64 channels: 2 values per frame
    torch.testing.assert_close(latents.pow(2).sum(), audio.pow(2).sum(), rtol=0.01, atol=0)
    decoded = decode_track(model, latents[:FILTERBANK_CHANNELS])
    error = (decoded - audio)[:, 256:-256].pow(2).sum() / audio[:, 256:-256].pow(2).sum()
    assert error < 1e-11  # perfect reconstruction, up to float32 rounding: beyond 110 dB


def test_blocks_match_one_pass_over_the_whole_track():
    torch.manual_seed(0)
    model = Autoencoder(ModelConfig(hidden_channels=8))
    audio = torch.randn(2, 4000)
    context = model.config.context_steps
    whole = model.encoder(torch.nn.functional.pad(audio, (4 * context,) * 2)[None])[0]
    whole = whole[:, context:-context]
    torch.testing.assert_close(encode_track(model, audio, block_steps=37), whole, atol=1e-5, rtol=0)
    decoded = model.decoder(torch.nn.functional.pad(whole, (context, context))[None])[0]
    decoded = decoded[:, 4 * context : -4 * context]
    torch.testing.assert_close(decode_track(model, whole, block_steps=29), decoded)


def boundary_and_middle_error(error: np.ndarray, block: int, edge: int = 16):
    """Mean squared error within ``edge`` samples of internal block boundaries, and elsewhere."""
    near = np.zeros(error.shape[-1], dtype=bool)
    for boundary in range(block, error.shape[-1], block):
        near[boundary - edge : boundary + edge] = True
    squared = (error**2).sum(axis=0)
    return squared[near].mean(), squared[~near].mean()


def test_block_edges_are_no_worse_than_the_middle(stereo):
    """The post's edge sag is gone: samples at internal block boundaries decode as well as
    those in the middle, while coding each block on its own (the post's 'SAME' padding)
    does show the sag, so the measurement can tell the difference."""
    model = Autoencoder(ModelConfig(hidden_channels=8))
    filterbank_init(model)
    audio = torch.from_numpy((stereo / np.sqrt(np.mean(stereo**2))).T.copy())
    audio = audio[:, : audio.shape[1] // 256 * 256]
    block_steps = 64  # 256 samples: many internal boundaries
    step = 0.05  # quantized latents, as the codec decodes them
    latents = torch.round(encode_track(model, audio, block_steps=block_steps) / step) * step
    decoded = decode_track(model, latents, block_steps=block_steps)
    edges, middle = boundary_and_middle_error((decoded - audio).numpy(), 256)
    assert edges <= 1.1 * middle

    with torch.no_grad():  # each block alone, zero-padded at its edges
        pieces = audio.reshape(2, -1, 256).transpose(0, 1)
        alone = torch.round(model.encoder(pieces) / step) * step
        alone = model.decoder(alone).transpose(0, 1).reshape(2, -1)
    alone_edges, alone_middle = boundary_and_middle_error((alone - audio).numpy(), 256)
    assert alone_edges > 3 * alone_middle


@pytest.mark.parametrize(
    "values",
    [{"hidden_channels": 0}, {"kernel_size": 3}, {"frame_steps": 6}, {"x": 1}, {"post": 1}],
)
def test_bad_configs_are_refused(values):
    with pytest.raises(ValueError):
        ModelConfig.from_dict(values)
