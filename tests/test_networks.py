import torch

from codec.networks import PostAutoencoder, run_blockwise
from codec.pqmf import STRIDE


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


def test_blocks_match_one_pass_over_the_whole_track():
    torch.manual_seed(0)
    decoder = PostAutoencoder().decoder
    latents = torch.randn(64, 4000)
    context = PostAutoencoder.context_steps()
    whole = decoder(torch.nn.functional.pad(latents, (context, context))[None])[0]
    whole = whole[:, STRIDE * context : -STRIDE * context].detach()
    torch.testing.assert_close(run_blockwise(decoder, latents, 29, context, STRIDE), whole)
