import pytest
import torch

from src.models import MLP, ConvNet


@pytest.mark.parametrize("image_size", [(28, 28), (32, 32), (8, 8), (30, 45)])
def test_convnet_maps_images_to_logits(image_size: tuple[int, int]) -> None:
    net = ConvNet(3, image_size, num_classes=7, channels=[8, 16], hidden_size=32)
    assert net(torch.randn(4, 3, *image_size)).shape == (4, 7)


def test_convnet_knobs_shape_the_feature_map() -> None:
    # 28 -conv k5 p0-> 24 -avg pool 3/s3-> 8 -conv k3 s2 p1-> 4 -> no pool
    net = ConvNet(
        1,
        (28, 28),
        10,
        channels=[4, 6],
        kernel_sizes=[5, 3],
        strides=[1, 2],
        paddings=[0, 1],
        pool=["avg", None],
        pool_size=3,
    )
    assert net.feature_map_size == (4, 4)
    assert net.num_features == 6 * 4 * 4
    assert isinstance(net.backbone[0][-1], torch.nn.AvgPool2d)
    pooled = ConvNet(1, (28, 28), 10, channels=[4], pool="max", pool_size=3, pool_stride=2)
    assert pooled.feature_map_size == (13, 13)  # (28 - 3) // 2 + 1


@pytest.mark.parametrize(
    ("global_pool", "pool"), [(True, torch.nn.AdaptiveAvgPool2d), ("max", torch.nn.AdaptiveMaxPool2d)]
)
def test_convnet_global_pool_features_are_the_last_channels(global_pool: bool | str, pool: type) -> None:
    net = ConvNet(1, (28, 28), 10, channels=[4, 12], global_pool=global_pool)
    assert net.num_features == 12
    assert isinstance(net.backbone[-2], pool)
    assert net.forward_features(torch.randn(2, 1, 28, 28)).shape == (2, 12)
    with pytest.raises(ValueError, match=r"model.global_pool must be one of False, True, 'avg', 'max'; got 'sum'"):
        ConvNet(1, (28, 28), 10, global_pool="sum")


def test_convnet_names_the_layer_that_shrinks_the_map_below_one_pixel() -> None:
    with pytest.raises(ValueError, match=r"model layer 4: the max pool .* 1x1 feature map into 0x0"):
        ConvNet(1, (8, 8), 10, channels=[4, 4, 4, 4])
    with pytest.raises(ValueError, match=r"model layer 1: the conv \(kernel 9"):
        ConvNet(1, (8, 8), 10, channels=[4], kernel_sizes=9, paddings=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pool": "median"}, "model.pool must be one of 'max', 'avg', null; got 'median'"),
        ({"kernel_sizes": [3, 3, 3]}, "model.kernel_sizes has 3 values for 2 layers"),
        ({"activation": "swish"}, "activation must be one of"),
        ({"dropout": 1.0}, r"model.dropout must be in \[0, 1\)"),
    ],
)
def test_convnet_rejects_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConvNet(1, (28, 28), 10, channels=[4, 8], **kwargs)


def test_mlp_layers_follow_the_options() -> None:
    net = MLP(1, (28, 28), 10, hidden_sizes=[64, 32], activation="gelu", dropout=0.1, batch_norm=False)
    assert net(torch.randn(5, 1, 28, 28)).shape == (5, 10)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 64), (64, 32), (32, 10)]
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in net.modules())
    assert any(isinstance(m, torch.nn.GELU) for m in net.modules())


def test_reset_classifier_gives_a_new_head_and_keeps_the_backbone() -> None:
    net = MLP(1, (8, 8), 10, hidden_sizes=[16])
    backbone = net.backbone
    net.reset_classifier(3)
    assert net.backbone is backbone
    assert net.num_classes == 3
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 3)
