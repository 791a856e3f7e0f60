"""ONNX: the net exported with torch's exporter and checked against PyTorch by ONNX Runtime, model.json beside
it, and the exported file as a net predict can run (backend=onnx).

Exporter: torch.export's (`dynamo=True`, torch's default since 2.9; it needs onnxscript). It traces shapes
symbolically, so a net that pads its input to a multiple of its stride (the U-Net, the encoder-decoders) keeps
that arithmetic for every height and width; the TorchScript exporter (`dynamo=False`, deprecated) bakes the
branch taken at the traced size (a TracerWarning, and a graph that breaks at other sizes).
"""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

OPSET = 18  # pinned: ONNX Runtime 1.31 runs it, and it is what torch 2.14's exporter emits natively
INPUT, OUTPUT = "images", "logits"
RTOL, ATOL = 1e-3, 1e-5
# TF "same" padding (timm's Conv2dSame, the tf_ EfficientNets) depends on the input size: these nets are
# exported at one size and compared with a looser absolute tolerance.
SAME_PADDING_ATOL = 1.5e-3


def require_onnx() -> None:
    """Fail in one line when the `export` extra (onnx, onnxruntime, onnxscript) is not installed."""
    for name in ("onnx", "onnxruntime", "onnxscript"):
        try:
            __import__(name)
        except ImportError:
            raise ValueError(
                f"ONNX needs the `export` extra ({name} is not installed): pip install '.[export]' "
                "(make install brings it)"
            ) from None


def has_same_padding(net: nn.Module) -> bool:
    """Whether the net pads like TensorFlow's "same" (its padding depends on the input size)."""
    return any(type(module).__name__ in ("Conv2dSame", "MaxPool2dSame") for module in net.modules())


def export_onnx(net: nn.Module, example: Tensor, path: Path, dynamic_size: bool) -> None:
    """Write `net` (in eval mode) traced on `example` (B >= 2, C, H, W) to `path`: a dynamic batch axis, and
    dynamic height and width when `dynamic_size`; checked by onnx.checker."""
    import onnx

    if len(example) < 2:
        raise ValueError(f"export traces a batch of 2 or more (1 can bake the batch size in), got {len(example)}")
    dynamic = torch.export.Dim.DYNAMIC
    dims = {0: dynamic} | ({2: dynamic, 3: dynamic} if dynamic_size else {})
    net.eval()
    # optimize=False: ONNX Runtime folds constants and fuses layers itself when it loads the model.
    # external_data=False: one file, weights inside (under ONNX's 2 GB limit for every net here).
    torch.onnx.export(net, (example,), str(path), dynamo=True, opset_version=OPSET, input_names=[INPUT],
                      output_names=[OUTPUT], dynamic_shapes=(dims,), optimize=False, external_data=False,
                      verbose=False)  # fmt: skip
    onnx.checker.check_model(str(path), full_check=True)


class OnnxNet(nn.Module):
    """An exported model run by ONNX Runtime on the CPU: images (B, C, H, W) float -> its logits, as torch."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        import onnxruntime

        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"onnx_path={path} does not exist; python -m src.export writes one")
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime raises its own classes for a file that is not a model
            raise ValueError(f"onnx_path={path} is not an ONNX model ONNX Runtime can load ({error})") from None
        self.input = self.session.get_inputs()[0]

    def check_input(self, shape: Sequence[int]) -> None:
        """Fail in one line if the model takes other inputs than the run's, `shape` per sample: images (C, H, W),
        table rows (F,); a dynamic height and width take any."""
        wanted = self.input.shape[1:]
        if len(wanted) != len(shape) or any(isinstance(w, int) and w != s for w, s in zip(wanted, shape, strict=True)):
            raise ValueError(
                f"the ONNX model takes inputs {tuple(wanted)} but the run's are {tuple(shape)}; "
                "pass the model.onnx exported from this checkpoint"
            )

    def forward(self, images: Tensor) -> Tensor:
        outputs = self.session.run(None, {self.input.name: images.detach().float().cpu().numpy()})[0]
        return torch.from_numpy(outputs).to(images.device)


def compare(net: nn.Module, onnx_net: OnnxNet, batches: Sequence[Tensor], atol: float, predict: Any) -> dict[str, Any]:
    """ONNX Runtime against PyTorch on each batch: the largest |difference| of the logits, whether every one is
    within rtol=1e-3 and `atol`, and the fraction of predictions (classes, pixels, values) that agree."""
    worst, close, agree, total = 0.0, True, 0, 0
    with torch.no_grad():
        for batch in batches:
            expected, got = net(batch), onnx_net(batch)
            worst = max(worst, float((expected - got).abs().max()))
            close &= torch.allclose(got, expected, rtol=RTOL, atol=atol)
            wanted, found = predict(expected), predict(got)
            # Classes and masks must be equal; real-valued predictions (regression in the targets' units, binary
            # probabilities) within the tolerance.
            same = torch.isclose(found, wanted, rtol=RTOL, atol=atol) if wanted.is_floating_point() else found == wanted
            agree += int(same.sum())
            total += wanted.numel()
    shapes = [tuple(batch.shape) for batch in batches]
    return {"inputs": shapes, "max_abs_difference": worst, "rtol": RTOL, "atol": atol, "within_tolerance": close,
            "agreement": agree / total}  # fmt: skip


def probe_batches(datamodule: Any, trace_size: int) -> tuple[Tensor, list[Tensor]]:
    """The run's first test images, preprocessed as at test time: `trace_size` to trace, then a batch of
    trace_size + 1 at the training size and the same images at another, odd size (H + 11, W + 5)."""
    datamodule.setup("test")  # a no-op once the splits are there
    images = datamodule.splits["test"].tensors[0][: trace_size + 1]
    if len(images) < trace_size + 1:
        raise ValueError(f"the parity check needs {trace_size + 1} test images, the run's data has {len(images)}")
    if images.dim() == 2:  # table rows (N, F), stored standardised: no other size to try
        return images[:trace_size], [images]
    height, width = images.shape[-2:]
    other_size = TF.resize(images, [height + 11, width + 5], antialias=True)
    return datamodule.preprocess(images[:trace_size]), [
        datamodule.preprocess(images),
        datamodule.preprocess(other_size),
    ]


def model_card(datamodule: Any, task: Any, parity: dict, overrides: list[str], checkpoint: str) -> dict[str, Any]:
    """model.json: what a deployer needs to feed the model and read its output, and where it came from."""
    output = {"name": OUTPUT, "meaning": task.prediction_files().describe_outputs(parity["output_shape"][0],
                                                                                  datamodule.class_names)}  # fmt: skip
    if hasattr(task, "target_mean"):  # regression: outputs standardised, mapped back with the training targets'
        output |= {"target_names": list(datamodule.target_names), "target_mean": task.target_mean.tolist(),
                   "target_std": task.target_std.tolist()}  # fmt: skip
    tabular = hasattr(datamodule, "feature_names")
    inputs = table_input(datamodule) if tabular else image_input(datamodule, task, parity)
    return {
        "format": "onnx",
        "file": "model.onnx",
        "opset": OPSET,
        "task": task.name,
        "class_names": list(datamodule.class_names),
        "input": inputs,
        "output": output,
        "class_colors": getattr(datamodule, "class_colors", None),
        "checkpoint": str(Path(checkpoint).resolve()),
        "overrides": overrides,
        "parity": {key: value for key, value in parity.items() if key not in ("dynamic_size", "output_shape")},
    }


def table_input(datamodule: Any) -> dict[str, Any]:
    """model.json's input of a table run: the feature columns in order, and their training mean and std."""
    return {
        "name": INPUT,
        "shape": ["batch", len(datamodule.feature_names)],
        "dtype": "float32",
        "features": list(datamodule.feature_names),
        "preprocess": "one value per feature, in this order (a categorical column's `name=value` feature is 1 where "
        "the row's name is value, else 0), then (x - mean) / std per feature: the training rows' statistics",
        "mean": datamodule.feature_mean.tolist(),
        "std": datamodule.feature_std.tolist(),
    }


def image_input(datamodule: Any, task: Any, parity: dict) -> dict[str, Any]:
    """model.json's input of an image run: shape, colour, size, mean and std, and how to preprocess."""
    channels, (height, width) = datamodule.in_channels, datamodule.image_size
    dynamic = parity["dynamic_size"]
    normalizes = bool(getattr(task.net, "normalizes_input", False))
    return {
        "name": INPUT,
        "shape": ["batch", channels, "height" if dynamic else height, "width" if dynamic else width],
        "dtype": "float32",
        "colour": {1: "L (grey)", 3: "RGB"}[channels],
        "height": height,
        "width": width,
        "dynamic_size": dynamic,
        "preprocess": f"convert to {'grey' if channels == 1 else 'RGB'}, resize to height x width (antialiased "
        "bilinear; the training size, though any size runs when dynamic_size), scale to [0, 1] (pixel / 255), "
        "then (x - mean) / std per channel, layout (batch, channels, height, width)",
        "mean": list(datamodule.mean),
        "std": list(datamodule.std),
        "model_normalizes": normalizes,  # a pretrained net applies its weights' own mean/std inside
    }


def write_model_card(path: Path, card: dict[str, Any]) -> None:
    path.write_text(json.dumps(card, indent=2) + "\n")


def export_checked(net: nn.Module, trace: Tensor, checks: Sequence[Tensor], target: Path, predict: Any) -> dict:
    """Export `net` traced on `trace` to `target`, then compare ONNX Runtime with PyTorch on `checks` (other batch
    sizes, and other image sizes where the size is dynamic). Only a model that passes is moved to `target`;
    -> the comparison (see `compare`), with whether height and width are dynamic."""
    with torch.no_grad():
        output_shape = list(net.eval()(trace[:1]).shape[1:])
    dynamic_size = len(output_shape) == 3 and not has_same_padding(net)  # (C, H, W) logits: a segmenter
    partial = target.with_name(f"{target.stem}.partial.onnx")
    try:
        export_onnx(net, trace, partial, dynamic_size)
        checks = [batch for batch in checks if dynamic_size or batch.shape[2:] == trace.shape[2:]]
        atol = SAME_PADDING_ATOL if has_same_padding(net) else ATOL
        result = compare(net, OnnxNet(partial), checks, atol, predict)
        result |= {"dynamic_size": dynamic_size, "output_shape": output_shape}
        if not result["within_tolerance"] or result["agreement"] < 1:
            raise ValueError(
                f"the exported model disagrees with PyTorch on {result['inputs']}: largest |difference| "
                f"{result['max_abs_difference']:.3g} (rtol {RTOL}, atol {atol}), predictions agree on "
                f"{100 * result['agreement']:.2f}%; nothing was written"
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return result
