"""Finding dataset files and reading the IDX format of (Fashion-)MNIST.

torchvision's reader takes only uncompressed files and asserts on damaged ones; Debian's copy is gzipped,
and a damaged file deserves a message that names it. Downloads still go through torchvision.
"""

import gzip
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor


class DataNotFoundError(FileNotFoundError):
    """The dataset is in none of the places looked at; the message says where and how to get it."""


def not_found(dataset: str, looked_in: Iterable[Path], how_to_get: str) -> DataNotFoundError:
    places = ", ".join(str(place) for place in looked_in)
    return DataNotFoundError(f"{dataset} files not found (looked in: {places}); {how_to_get}")


def optional_path(folder: str | None) -> Path | None:
    """A configured folder (`~` expanded), or None when the config leaves it null."""
    return None if folder is None else Path(folder).expanduser()


def find_file(folder: Path, name: str) -> Path | None:
    """`folder/name`, or its gzipped twin `folder/name.gz`."""
    for path in (folder / name, folder / f"{name}.gz"):
        if path.is_file():
            return path
    return None


# IDX header: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, then one
# big-endian int32 size per dimension.
_UNSIGNED_BYTE = 0x08


def read_idx(path: Path) -> Tensor:
    """Read an IDX file of unsigned bytes (optionally gzipped) into a uint8 tensor of its stated shape."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path} is not a readable IDX file ({error}); delete it and fetch it again") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != _UNSIGNED_BYTE:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad header); delete it and fetch it again")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(torch.Size(shape).numel())
    if len(data) != expected:
        raise ValueError(
            f"{path} is truncated or damaged: {len(data)} bytes, its header promises {expected}; "
            "delete it and fetch it again"
        )
    return torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=header).view(shape)
