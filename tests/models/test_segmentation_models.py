import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf

from src.models import UNet
from tests.conftest import CONF

SIZES = [(30, 45), (1, 1), (64, 64), (17, 33)]
NORM_TYPES = {"batch": nn.BatchNorm2d, "group": nn.GroupNorm, "instance": nn.InstanceNorm2d}


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: a second thread gains nothing, and on a busy machine each op waits for it (the
    overfit test took 15 s instead of 0.5 s on two shared cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("norm", ["batch", "group", "instance", None])
@pytest.mark.parametrize("up", ["bilinear", "transposed"])
@pytest.mark.parametrize("down", ["max", "avg", "conv"])
def test_unet_gives_logits_of_the_input_size(down: str, up: str, norm: str | None) -> None:
    torch.manual_seed(0)
    net = UNet(2, 5, base_channels=8, depth=2, down=down, up=up, norm=norm)
    # Instance norm needs more than one pixel per map; a 1x1 input leaves one at the bottleneck (documented).
    for size in [s for s in SIZES if norm != "instance" or s != (1, 1)]:
        assert net(torch.randn(2, 2, *size)).shape == (2, 5, *size), size


@pytest.mark.parametrize(
    ("option", "layer"),
    [
        ({"down": "conv"}, lambda m: isinstance(m, nn.Conv2d) and m.stride == (2, 2)),
        ({"down": "avg"}, lambda m: isinstance(m, nn.AvgPool2d)),
        ({"up": "transposed"}, lambda m: isinstance(m, nn.ConvTranspose2d)),
        ({"norm": "group"}, lambda m: isinstance(m, nn.GroupNorm)),
        ({"norm": "instance"}, lambda m: isinstance(m, nn.InstanceNorm2d)),
        ({"dropout": 0.2}, lambda m: isinstance(m, nn.Dropout2d)),
        ({"activation": "silu"}, lambda m: isinstance(m, nn.SiLU)),
    ],
)
def test_unet_options_pick_their_layers(option: dict, layer) -> None:
    assert not any(layer(m) for m in UNet(1, 3, base_channels=8, depth=2).modules())
    assert any(layer(m) for m in UNet(1, 3, base_channels=8, depth=2, **option).modules())


def test_unet_without_norm_has_biased_convs_and_no_norm_layers() -> None:
    plain, normed = UNet(1, 3, norm=None), UNet(1, 3)
    assert not any(isinstance(m, tuple(NORM_TYPES.values())) for m in plain.modules())
    assert all(m.bias is not None for m in plain.modules() if isinstance(m, nn.Conv2d))
    assert all(m.bias is None for m in normed.encoder.modules() if isinstance(m, nn.Conv2d))


def test_unet_widths_double_per_level_and_the_head_makes_the_classes() -> None:
    net = UNet(3, 7, base_channels=8, depth=4)
    widths = [[m.out_channels for m in stage.modules() if isinstance(m, nn.Conv2d)][-1] for stage in net.encoder]
    assert widths == [8, 16, 32, 64, 128]
    assert net.backbone is net.encoder
    assert (net.head.in_channels, net.head.out_channels, net.head.kernel_size) == (8, 7, (1, 1))
    assert net.num_classes == 7


def test_unet_crops_what_it_padded() -> None:
    """Logits of a 30x45 image are the top-left of those of the same image zero-padded to 32x48."""
    net = UNet(1, 3, base_channels=8, depth=3).eval()
    x = torch.randn(2, 1, 30, 45)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(F.pad(x, (0, 3, 0, 2)))[..., :30, :45])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"down": "median"}, "model.down must be one of 'max', 'avg', 'conv'; got 'median'"),
        ({"up": "nearest"}, "model.up must be one of 'bilinear', 'transposed'; got 'nearest'"),
        ({"norm": "layer"}, "model.norm must be one of 'batch', 'group', 'instance', null; got 'layer'"),
        ({"activation": "swish"}, r"model.activation must be one of \['elu', 'gelu', .*\], got 'swish'"),
        ({"dropout": 1.0}, r"model.dropout must be in \[0, 1\), got 1.0"),
        ({"depth": 0}, "model.depth must be a positive integer, got 0"),
        ({"base_channels": 2.5}, "model.base_channels must be a positive integer, got 2.5"),
        ({"kernel_size": 4}, "model.kernel_size must be odd to keep the feature map's size, got 4"),
        ({"num_classes": 0}, "model.num_classes must be a positive integer, got 0"),
    ],
)
def test_unet_rejects_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        UNet(**{"in_channels": 1, "num_classes": 3, **kwargs})


@pytest.mark.parametrize("build", [lambda: UNet(1, 3, base_channels=4, up="transposed"), lambda: UNet(1, 3, 4)])
def test_unet_gradients_reach_the_first_conv(build) -> None:
    net = build()
    F.cross_entropy(net(torch.randn(2, 1, 13, 21)), torch.randint(0, 3, (2, 13, 21))).backward()
    assert net.encoder[0][0].weight.grad.abs().sum() > 0


def test_unet_overfits_one_batch() -> None:
    torch.manual_seed(0)
    images, masks = torch.randn(4, 1, 16, 16), torch.randint(0, 3, (4, 16, 16))
    net = UNet(1, 3, base_channels=8, depth=2)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2)
    for _ in range(100):
        optimizer.zero_grad()
        F.cross_entropy(net(images), masks).backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = (net.eval()(images).argmax(1) == masks).float().mean()
    assert accuracy > 0.9


@pytest.mark.parametrize("option", ["unet"])
def test_model_configs_take_channels_and_classes_from_the_data(option: str) -> None:
    data = {"data": {"in_channels": 2, "num_classes": 5}}  # numbers no model config may state itself
    cfg = OmegaConf.merge(data, {"model": OmegaConf.load(CONF / "model" / f"{option}.yaml")})
    net = instantiate(cfg.model).eval()  # nested encoders are built first and handed over
    with torch.no_grad():
        assert net(torch.randn(1, 2, 20, 28)).shape == (1, 5, 20, 28)
