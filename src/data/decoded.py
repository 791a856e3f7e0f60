"""Image files decoded once into one uint8 array, in memory or in a memory-mapped file on disk.

Both paths serve batches by indexing the same array, so they give the same batches; they differ only in where the
pixels live. In memory: a tensor in RAM, decoded again by each run. On disk: a raw uint8 file (N, C, H, W) in
`cache_dir`, written once (under a temporary name, renamed when whole) and memory-mapped by every later run with
the same files, channels and size; the OS pages it in as batches touch it and may drop those pages again, so a
set larger than RAM trains with the anonymous memory of a batch.
"""

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from src.data.images import BadImageError, blank, decode_image

CACHES = ("auto", "memory", "disk")
BATCH = 256  # files per decoding batch (and per worker hand-over)
FILES_PER_WORKER = 2000  # smaller sets decode in this process: starting workers would cost more than it saves


class _Files(Dataset):
    """Decodes a batch of files: (images uint8 (B, C, H, W), an error message or None per file)."""

    def __init__(self, files: Sequence[Path], channels: int, size: Sequence[int]) -> None:
        self.files, self.channels, self.size = list(files), channels, tuple(size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, list[str | None]]:
        images, errors = torch.empty(len(indices), self.channels, *self.size, dtype=torch.uint8), []
        for slot, index in enumerate(indices):
            try:
                images[slot] = decode_image(self.files[index], self.channels, self.size)[0]
                errors.append(None)
            except BadImageError as error:
                images[slot] = blank(self.channels, self.size)
                errors.append(str(error))
        return images, errors


def _decode_into(
    store: Tensor, files: Sequence[Path], channels: int, size: Sequence[int], skip_bad: bool, workers: int | None = None
) -> Tensor:
    """Decode `files` in order into the first rows of `store` (N, C, H, W), leaving out unreadable ones when
    `skip_bad` (else the first stops it) -> which files were read, bool (N,). workers: decoding processes (None:
    one per core for large sets, none for small ones)."""
    if workers is None:
        workers = min(os.cpu_count() or 1, len(files) // FILES_PER_WORKER)
    loader = DataLoader(_Files(files, channels, size), batch_size=BATCH, num_workers=workers, collate_fn=lambda b: b)
    read, filled = [], 0
    for images, errors in loader:
        good = [error is None for error in errors]
        if not skip_bad and not all(good):
            message = next(error for error in errors if error)
            raise BadImageError(f"{message}; fix or remove it, or pass data.skip_bad=true to leave such files out")
        kept = images[torch.tensor(good)]
        store[filled : filled + len(kept)] = kept
        filled += len(kept)
        read += good
    return torch.tensor(read, dtype=torch.bool)


def decode_in_memory(
    files: Sequence[Path], channels: int, size: Sequence[int], skip_bad: bool
) -> tuple[Tensor, Tensor]:
    """-> (images uint8 (M, C, H, W) in RAM, which of the N files were read (M of them))."""
    store = torch.empty(len(files), channels, *size, dtype=torch.uint8)
    read = _decode_into(store, files, channels, size, skip_bad)
    return store[: int(read.sum())].clone() if not read.all() else store, read


def cache_key(files: Sequence[Path], channels: int, size: Sequence[int]) -> str:
    """Names the decoded file: the files (path, size, modification time), channels and size; a changed file or
    setting makes another."""
    digest = hashlib.sha256(json.dumps([channels, list(size)]).encode())
    for file in files:
        stat = file.stat()
        digest.update(f"{os.path.abspath(file)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def decode_on_disk(
    files: Sequence[Path], channels: int, size: Sequence[int], skip_bad: bool, cache_dir: Path
) -> tuple[Tensor, Tensor]:
    """-> (images uint8 (M, C, H, W) memory-mapped from `cache_dir`, which of the N files were read), decoding
    only when no complete file for these files and settings is there yet."""
    key = cache_key(files, channels, size)
    data, index = cache_dir / f"{key}.u8", cache_dir / f"{key}.json"
    if not index.is_file():
        _write_decoded(files, channels, size, skip_bad, data, index)
    read = torch.tensor(json.loads(index.read_text())["read"], dtype=torch.bool)
    if not skip_bad and not read.all():  # written by a run that skipped bad files: this one must stop at them
        first = files[int((~read).nonzero()[0])]
        raise BadImageError(f"cannot read {first} as an image; fix or remove it, or pass data.skip_bad=true")
    shape = (int(read.sum()), channels, *size)
    # Copy-on-write: writable for torch, but never written, so its pages stay the file's (not anonymous memory).
    return torch.from_numpy(np.memmap(data, dtype=np.uint8, mode="c", shape=shape)), read


def _write_decoded(
    files: Sequence[Path], channels: int, size: Sequence[int], skip_bad: bool, data: Path, index: Path
) -> None:
    try:
        data.parent.mkdir(parents=True, exist_ok=True)
        partial = data.with_name(f"{data.name}.{os.getpid()}.tmp")
        shape = (len(files), channels, *size)
        store = np.memmap(partial, dtype=np.uint8, mode="w+", shape=shape)
    except OSError as error:
        raise OSError(
            error.errno, f"cannot write the decoded images to {data.parent} ({error.strerror}); pass "
            "data.cache_dir=<a folder you may write to> or data.cache=memory"
        ) from None  # fmt: skip
    try:
        read = _decode_into(torch.from_numpy(store), files, channels, size, skip_bad)
        store.flush()
        del store
        os.truncate(partial, int(read.sum()) * int(np.prod(shape[1:])))
        os.replace(partial, data)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial_index = index.with_name(f"{index.name}.{os.getpid()}.tmp")
    partial_index.write_text(json.dumps({"files": len(files), "shape": list(shape[1:]), "read": read.tolist()}))
    os.replace(partial_index, index)
