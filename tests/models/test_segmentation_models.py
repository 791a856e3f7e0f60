import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf

from src.models import CNNEncoder, EncoderDecoder, TimmEncoder, UNet
from tests.conftest import CONF, ROOT

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


def tiny_timm(in_channels: int = 1) -> TimmEncoder:
    return TimmEncoder("resnet10t", in_channels, out_indices=[1, 2, 3])


@pytest.mark.parametrize("decoder", ["fpn", "unet"])
@pytest.mark.parametrize("encoder", ["cnn", "timm"])
def test_encoder_decoder_gives_logits_of_the_input_size(encoder: str, decoder: str) -> None:
    backbone = CNNEncoder(2, channels=[8, 16, 32]) if encoder == "cnn" else tiny_timm(2)
    net = EncoderDecoder(backbone, 4, decoder=decoder, decoder_channels=16)
    for size in SIZES:
        assert net(torch.randn(2, 2, *size)).shape == (2, 4, *size), size
    assert net.backbone is net.encoder is backbone
    assert (net.head.out_channels, net.num_classes) == (4, 4)


def test_cnn_encoder_levels_follow_their_pools() -> None:
    encoder = CNNEncoder(1, channels=[4, 8, 16], pool=[None, "max", "avg"])
    assert encoder.reductions == [1, 2, 4]
    features = encoder(torch.randn(1, 1, 12, 20))
    assert [f.shape[1:] for f in features] == [(4, 12, 20), (8, 6, 10), (16, 3, 5)]
    assert isinstance(encoder.blocks[2][-1], nn.AvgPool2d)


def test_timm_encoder_states_its_levels() -> None:
    encoder = tiny_timm()
    assert encoder.channels == [64, 128, 256] and encoder.reductions == [4, 8, 16]
    features = encoder(torch.randn(1, 1, 32, 48))
    assert [f.shape[1:] for f in features] == [(64, 8, 12), (128, 4, 6), (256, 2, 3)]


@pytest.mark.parametrize("build", [lambda: UNet(1, 3, base_channels=4, up="transposed"), lambda: UNet(1, 3, 4)])
def test_unet_gradients_reach_the_first_conv(build) -> None:
    net = build()
    F.cross_entropy(net(torch.randn(2, 1, 13, 21)), torch.randint(0, 3, (2, 13, 21))).backward()
    assert net.encoder[0][0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("decoder", ["fpn", "unet"])
@pytest.mark.parametrize("encoder", ["cnn", "timm"])
def test_encoder_decoder_gradients_reach_the_first_conv(encoder: str, decoder: str) -> None:
    backbone = CNNEncoder(1, channels=[4, 8]) if encoder == "cnn" else tiny_timm()
    net = EncoderDecoder(backbone, 3, decoder=decoder, decoder_channels=8)
    F.cross_entropy(net(torch.randn(2, 1, 13, 21)), torch.randint(0, 3, (2, 13, 21))).backward()
    first_conv = next(m for m in net.encoder.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.weight.grad.abs().sum() > 0


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


class NoLevels(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.channels = [8, 16]  # but no reductions


class CoarseFirst(NoLevels):
    def __init__(self) -> None:
        super().__init__()
        self.reductions = [4, 2]


@pytest.mark.parametrize(
    ("encoder", "kwargs", "error", "message"),
    [
        (NoLevels(), {}, TypeError, r"model.encoder must state lists .* got NoLevels with channels=\[8, 16\], reduc"),
        (CoarseFirst(), {}, ValueError, r"model.encoder must return its levels finest first; got reductions \[4, 2\]"),
        (None, {"decoder": "deeplab"}, ValueError, "model.decoder must be one of 'fpn', 'unet'; got 'deeplab'"),
        (None, {"decoder_channels": 0}, ValueError, "model.decoder_channels must be a positive integer, got 0"),
        (None, {"dropout": -0.1}, ValueError, r"model.dropout must be in \[0, 1\), got -0.1"),
        (None, {"num_classes": 0}, ValueError, "model.num_classes must be a positive integer, got 0"),
    ],
)
def test_encoder_decoder_rejects_bad_options(encoder: nn.Module | None, kwargs: dict, error: type, message: str):
    with pytest.raises(error, match=message):
        EncoderDecoder(**{"encoder": encoder or CNNEncoder(1, [4]), "num_classes": 3, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pool": ["max", "median"]}, "model.encoder.pool must be one of 'max', 'avg', null; got 'median'"),
        ({"kernel_sizes": [3, 3, 3]}, "model.encoder.kernel_sizes has 3 values for 2 layers; give one or 2"),
        ({"kernel_sizes": 2}, "model.encoder.kernel_sizes must be odd to keep each map's size, got 2"),
        ({"activation": "swish"}, r"model.encoder.activation must be one of \['elu'"),
        ({"channels": []}, r"model.encoder.channels must list at least one level's output channels, got \[\]"),
    ],
)
def test_cnn_encoder_rejects_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CNNEncoder(**{"in_channels": 1, "channels": [4, 8], **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "resnet10"}, r"model.encoder.name 'resnet10' is not a timm model; close names: \[.*'resnet10t'"),
        ({"weights": "IMAGENET1K_V1"}, "model.encoder.weights must be one of 'DEFAULT', null; got 'IMAGENET1K_V1'"),
        ({"weights": "DEFAULT", "weights_path": "w.pt"}, "model.encoder.weights=DEFAULT and .*set one of them to"),
    ],
)
def test_timm_encoder_rejects_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimmEncoder(**{"name": "resnet10t", "in_channels": 1, **kwargs})


def test_timm_encoder_says_what_to_do_when_weights_cannot_download(monkeypatch: pytest.MonkeyPatch) -> None:
    import timm.models._builder

    def offline(*args, **kwargs) -> None:
        raise OSError("Name or service not known\nsecond line")

    monkeypatch.setattr(timm.models._builder, "load_pretrained", offline)
    message = r"DEFAULT could not fetch resnet10t's weights \(OSError: Name or service not known\); it needs internet"
    with pytest.raises(ValueError, match=message + ", or set model.encoder.weights_path"):
        TimmEncoder("resnet10t", 1, weights="DEFAULT")
    with pytest.raises(IndexError):  # a bad option is not blamed on the download
        TimmEncoder("resnet10t", 1, weights="DEFAULT", out_indices=[7])


def saved_timm_state(tmp_path: Path, name: str = "resnet10t", in_channels: int = 1, seed: int = 1) -> Path:
    import timm

    torch.manual_seed(seed)  # weights unlike the encoder's own random start
    state = timm.create_model(name, in_chans=in_channels).state_dict()
    torch.save(state, tmp_path / "weights.pt")
    return tmp_path / "weights.pt"


@pytest.mark.parametrize("name", ["resnet10t", "convnext_atto"])  # convnext's features model renames its stages
def test_timm_encoder_loads_a_local_state_dict_without_the_classifier(tmp_path: Path, name: str) -> None:
    path = saved_timm_state(tmp_path, name)
    saved = torch.load(path, weights_only=True)
    loaded = TimmEncoder(name, 1, weights_path=str(path)).model.state_dict()
    assert len(loaded) < len(saved)  # the classifier head was dropped
    for key, tensor in loaded.items():
        torch.testing.assert_close(tensor, saved.get(key, saved.get(key.replace("_", ".", 1))), msg=key)


def test_timm_encoder_adapts_rgb_weights_to_one_channel(tmp_path: Path) -> None:
    saved = torch.load(saved_timm_state(tmp_path, in_channels=3), weights_only=True)
    loaded = TimmEncoder("resnet10t", 1, weights_path=str(tmp_path / "weights.pt")).model.state_dict()
    torch.testing.assert_close(loaded["conv1.0.weight"], saved["conv1.0.weight"].sum(1, keepdim=True))
    torch.testing.assert_close(loaded["layer1.0.conv1.weight"], saved["layer1.0.conv1.weight"])


def test_timm_encoder_names_the_first_tensor_that_does_not_fit(tmp_path: Path) -> None:
    state = torch.load(saved_timm_state(tmp_path), weights_only=True)
    state["layer2.0.conv1.weight"], state["layer3.0.conv1.weight"] = torch.zeros(1, 2), torch.zeros(3)
    torch.save(state, tmp_path / "bad.pt")
    message = r"layer2.0.conv1.weight is shaped \(1, 2\) there, \(128, 64, 3, 3\) in the encoder"
    with pytest.raises(ValueError, match=message):
        TimmEncoder("resnet10t", 1, weights_path=str(tmp_path / "bad.pt"))


def test_timm_encoder_refuses_another_models_state_dict(tmp_path: Path) -> None:
    path = saved_timm_state(tmp_path, "mobilenetv3_small_050")
    with pytest.raises(ValueError, match=r"lacks conv1.0.weight \(\d+ of the encoder's \d+ tensors are missing\)"):
        TimmEncoder("resnet10t", 1, weights_path=str(path))
    (tmp_path / "junk.pt").write_text("not a state dict")
    with pytest.raises(ValueError, match=r"junk.pt' is not a readable state dict"):
        TimmEncoder("resnet10t", 1, weights_path=str(tmp_path / "junk.pt"))


def test_importing_the_models_does_not_import_timm() -> None:
    code = "import sys, src.models; print('timm' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("option", ["unet", "cnn_fpn", "timm_fpn"])
def test_model_configs_take_channels_and_classes_from_the_data(option: str) -> None:
    data = {"data": {"in_channels": 2, "num_classes": 5}}  # numbers no model config may state itself
    cfg = OmegaConf.merge(data, {"model": OmegaConf.load(CONF / "model" / f"{option}.yaml")})
    net = instantiate(cfg.model).eval()  # nested encoders are built first and handed over
    with torch.no_grad():
        assert net(torch.randn(1, 2, 20, 28)).shape == (1, 5, 20, 28)
