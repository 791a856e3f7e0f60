"""The VAE nets: shapes on grey and colour images of their own sizes, the bounded log-variance, the conditional
option, and construction errors that name the setting."""

import warnings

import pytest
import torch

from src.models import VAEMLP, VAEConv


@pytest.mark.parametrize("net_class", [VAEMLP, VAEConv])
@pytest.mark.parametrize(("channels", "size"), [(1, (28, 28)), (3, (32, 32)), (3, (20, 36))])
@pytest.mark.parametrize("conditional", [False, True])
def test_shapes_on_grey_and_colour_images(net_class: type, channels: int, size: tuple, conditional: bool) -> None:
    net = net_class(channels, size, num_classes=10, latent_size=5, conditional=conditional)
    images, labels = torch.rand(3, channels, *size), torch.tensor([0, 4, 9])
    output = net(images, labels if conditional else None)
    assert output.params.shape == images.shape
    assert output.mean.shape == output.log_var.shape == output.z.shape == (3, 5)
    assert net.decode(torch.randn(7, 5), torch.arange(7) if conditional else None).shape == (7, channels, *size)


def test_the_label_changes_what_a_conditional_vae_decodes() -> None:
    net = VAEConv(1, (28, 28), num_classes=10, latent_size=4, conditional=True).eval()
    z = torch.zeros(2, 4)
    decoded = net.decode(z, torch.tensor([0, 1]))
    assert not torch.allclose(decoded[0], decoded[1])
    with pytest.raises(ValueError, match="needs the labels"):
        net.decode(z)


def test_log_variance_is_bounded() -> None:
    net = VAEMLP(1, (8, 8), 10, latent_size=3, hidden_sizes=[8], log_var_min=-6.0, log_var_max=2.0)
    with torch.no_grad():
        net.posterior.bias.copy_(torch.tensor([0.0] * 3 + [-100.0, 0.0, 100.0]))
    log_var = net.encode(torch.zeros(1, 1, 8, 8))[1]
    assert log_var.tolist() == [[-6.0, pytest.approx(log_var[0, 1].item()), 2.0]]


def test_conv_vae_options_and_errors() -> None:
    pooled = VAEConv(1, (28, 28), 10, channels=[8, 16, 16], strides=1, pool=["max", "avg", None])
    assert pooled(torch.rand(2, 1, 28, 28)).params.shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="model layer 4"):  # 8 -> 4 -> 2 -> 1 -> 0
        VAEConv(1, (8, 8), 10, channels=[8, 8, 8, 8], strides=1, pool="max")
    with pytest.raises(ValueError, match="log_var_min"):
        VAEMLP(1, (8, 8), 10, log_var_min=2.0, log_var_max=-6.0)


def test_gated_mlp_vae_multiplies_by_a_sigmoid_gate() -> None:
    net = VAEMLP(1, (8, 8), 10, latent_size=3, hidden_sizes=[6, 4], gated=True)
    first = net.encoder[1]  # Linear to 2 x 6: values and gates
    assert first.out_features == 12 and isinstance(net.encoder[2], torch.nn.GLU)
    images = torch.rand(2, 1, 8, 8)
    values, gates = first(images.flatten(1)).chunk(2, dim=1)
    assert torch.allclose(net.encoder[:3](images), values * gates.sigmoid())
    assert net(images).params.shape == images.shape


@pytest.mark.parametrize("net_class", [VAEMLP, VAEConv])
def test_a_latent_size_below_one_fails_before_any_layer_is_built(net_class: type) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns of zero-element layers if they are built first
        with pytest.raises(ValueError, match=r"model\.latent_size must be a positive integer, got 0"):
            net_class(1, (28, 28), 10, latent_size=0)
