"""The user's own images: class folders or a labels file, one label per image (classification) or several
(multi-label). See src/data/folder_survey.py for the layouts."""

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

from src.data.base import InMemoryDataset, Split, channel_stats, held_out_size, split_off
from src.data.classification import ClassificationDataModule, stratified_subset
from src.data.decoded import CACHES, decode_in_memory, decode_on_disk
from src.data.folder_survey import SPLITS, FolderSurvey, survey_folder

TASKS = ("classification", "multilabel")


def stratified_split_off(split: Split, size: int | float, seed: int, key: str) -> tuple[Split, Split]:
    """Like `split_off`, but each class gives its share (at least one of a class with two or more samples)."""
    rows, labels = split
    counts = torch.bincount(labels)
    fraction = size if isinstance(size, float) else size / len(labels)
    quota = torch.where(counts > 1, (counts * fraction).round().clamp_min(1), 0).long()
    held = stratified_subset(labels, quota, seed)
    if len(held) >= len(labels) or not len(held):
        raise ValueError(f"data.{key}={size} leaves no training samples out of {len(labels)}; use a smaller {key}")
    rest = torch.ones(len(labels), dtype=torch.bool)
    rest[held] = False
    return (rows[rest], labels[rest]), (rows[held], labels[held])


class ImageFolderDataModule(ClassificationDataModule):
    """Images (B, C, H, W) of one's own files; targets: labels (B,) int64 (classification) or multi-hot (B, C)
    int64 (multilabel, `task`).

    data_dir: the folder of train/ (val/, test/) class folders; labels: a CSV file instead (src/data/folder_survey.py).
    class_names, in_channels, image_size: from the files through the config (`${survey:...}`), so that model
    configs can interpolate them; every image is converted to `in_channels` (1 grey, 3 RGB) and resized to
    `image_size` once. A split the files lack is drawn from train by `seed` (`test_size`, then `val_size`:
    fractions or counts; stratified by class for one label per image).
    cache: memory (decoded into RAM), disk (a memory-mapped file in `cache_dir`, default `<data_dir>/.decoded`,
    reused by later runs) or auto (memory while the decoded set fits `memory_budget_gb`). skip_bad: leave
    unreadable files out (counted) instead of stopping at the first.
    """

    def __init__(
        self,
        *,
        data_dir: str | None,
        class_names: Sequence[str],
        labels: str | None = None,
        task: str = "classification",
        test_size: int | float = 0.2,
        cache: str = "auto",
        cache_dir: str | None = None,
        memory_budget_gb: float = 4.0,
        skip_bad: bool = False,
        **kwargs: Any,
    ) -> None:
        if task not in TASKS:
            raise ValueError(f"data=image_folder trains {' or '.join(TASKS)}, not task={task}")
        if cache not in CACHES:
            raise ValueError(f"data.cache must be one of {', '.join(CACHES)}, got {cache!r}")
        self.task, self.class_names = task, list(class_names)
        super().__init__(**kwargs)
        if task == "multilabel" and (self.classes or self.train_fraction < 1 or self.samples_per_class):
            raise ValueError(
                "data.classes, data.train_fraction and data.samples_per_class choose images by their one class; "
                "a multi-label set has several per image: leave them at their defaults"
            )
        self.data_dir, self.labels = data_dir, labels
        self.test_size = held_out_size("test_size", test_size)
        self.cache, self.memory_budget_gb, self.skip_bad = cache, memory_budget_gb, skip_bad
        beside = Path(labels).parent if labels else Path(data_dir or ".")
        self.cache_dir = Path(cache_dir or beside / ".decoded").expanduser()

    @classmethod
    def facts(cls, node: Any) -> dict[str, Any]:
        """What the files say, for the config's `${survey:<key>}` (src/run/resolvers.py)."""
        return survey_folder(node.data_dir, node.labels).facts()

    @classmethod
    def infer_task(cls, node: Any) -> str:
        """multilabel when some image has several labels, else classification (src/run/task_choice.py)."""
        return cls.facts(node)["task"]

    def survey(self) -> FolderSurvey:
        survey = survey_folder(self.data_dir, self.labels)
        if list(survey.class_names) != self.dataset_class_names:
            raise ValueError(
                f"{self.labels or self.data_dir} now holds the classes {list(survey.class_names)}, not the run's "
                f"{self.dataset_class_names}; train a new run on it"
            )
        return survey

    def prepare_data(self) -> None:
        """Decode to disk once, on one process per machine, before every process reads it (`setup`)."""
        rows = self._rows()
        if self._chosen_cache(rows) == "disk":
            self._decode(rows, "disk")

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        rows = self._rows()
        images, read = self._decode(rows, self._chosen_cache(rows))
        self._report(self.survey(), len(read) - int(read.sum()))
        start = 0
        for split in SPLITS:
            kept = read[: len(rows[split][0])]
            read, count = read[len(kept) :], int(kept.sum())
            self.splits[split] = InMemoryDataset(images[start : start + count], rows[split][1][kept])
            start += count
        if self.mean is None or self.std is None:
            self.mean, self.std = channel_stats(self.splits["train"].tensors[0])

    def _rows(self) -> dict[str, Split]:
        """Per split, (indices into the survey's files in split order, targets): the files' own splits, the
        missing ones drawn from train, then the class and training subsets."""
        survey = self.survey()
        splits, offset = {}, 0
        for split, files in survey.files.items():
            splits[split] = (torch.arange(offset, offset + len(files)), self._targets(survey.labels[split]))
            offset += len(files)
        draw = split_off if self.task == "multilabel" else stratified_split_off
        for split, size in (("test", self.test_size), ("val", self.val_size)):
            if split not in splits:
                splits["train"], splits[split] = draw(splits["train"], size, self.seed, f"{split}_size")
        ordered = {split: splits[split] for split in SPLITS}
        return ordered if self.task == "multilabel" else self.select(ordered)  # subsets: one label per image

    def _targets(self, labels: list[tuple[int, ...]]) -> Tensor:
        if self.task == "classification":
            if several := next((names for names in labels if len(names) > 1), None):
                raise ValueError(f"{self.labels} gives some images several labels ({several}); add task=multilabel")
            return torch.tensor([names[0] for names in labels], dtype=torch.int64)
        targets = torch.zeros(len(labels), len(self.class_names), dtype=torch.int64)
        for row, names in enumerate(labels):
            targets[row, list(names)] = 1
        return targets

    def _chosen_cache(self, rows: dict[str, Split]) -> str:
        if self.cache != "auto":
            return self.cache
        count = sum(len(split[0]) for split in rows.values())
        decoded = count * self.in_channels * self.image_size[0] * self.image_size[1]
        return "memory" if decoded <= self.memory_budget_gb * 2**30 else "disk"

    def _decode(self, rows: dict[str, Split], cache: str) -> tuple[Tensor, Tensor]:
        survey = self.survey()
        everything = [file for split in survey.files.values() for file in split]
        files = [everything[int(index)] for split in SPLITS for index in rows[split][0]]
        settings = (files, self.in_channels, self.image_size, self.skip_bad)
        return decode_on_disk(*settings, self.cache_dir) if cache == "disk" else decode_in_memory(*settings)

    @rank_zero_only
    def _report(self, survey: FolderSurvey, unreadable: int) -> None:
        """One line on what was left out: files that are not images, and unreadable ones (skip_bad)."""
        if not (survey.left_out or unreadable):
            return
        notes = [f"{survey.left_out} file(s) that are not images"] if survey.left_out else []
        notes += [f"{unreadable} unreadable image(s) (data.skip_bad=true)"] if unreadable else []
        print(f"{self.labels or self.data_dir}: left out {' and '.join(notes)}", file=sys.stderr, flush=True)
