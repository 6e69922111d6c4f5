"""Small local image datasets for the short-training proxy (never downloaded).

Two layouts are read, fully into memory (capped by ``max_images``):

* an ImageFolder tree: ``ROOT/CLASS/*.png|jpg|...``, or ``ROOT/train/CLASS/...`` plus
  ``ROOT/val/CLASS/...`` when the held-out split is given;
* CIFAR-10's python batches: a folder with ``data_batch_1`` ... and ``test_batch``.
  They are pickles, and a pickle can run code, so they are read by
  :class:`_BatchUnpickler`, which rebuilds only what the format holds (a dict of
  bytes/str keys, numpy arrays, lists of ints and byte strings) and refuses anything else.

Without a given split, a seeded fraction of each class is held out.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from explorer.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".webp", ".tif", ".tiff")
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # N x 3 x R x R, normalised
    labels: torch.Tensor  # N, int64


@dataclass(frozen=True)
class Dataset:
    train: Split
    val: Split
    classes: tuple[str, ...]


#: the only globals a CIFAR-10 batch names: numpy's array rebuilders (numpy 1 and 2
#: module paths, pickle protocols 2-5) and the bytes decoder of protocol 2
_BATCH_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    *((f"numpy.{core}.multiarray", "_reconstruct") for core in ("core", "_core")),
    *((f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core"))})


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles only numpy arrays (through the globals numpy's own pickles name) and
    plain containers: any other global, e.g. ``os.system``, is refused before it runs."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _BATCH_GLOBALS:
            raise pickle.UnpicklingError(f"refused {module}.{name}: a CIFAR-10 batch holds "
                                         "only arrays, lists and strings")
        return super().find_class(module, name)


def _read_batch(path: Path) -> tuple[Any, list[int]]:
    """(uint8 images N x 3072, labels) of one CIFAR-10 python batch, read safely."""
    import numpy as np

    try:
        with open(path, "rb") as fh:
            batch = _BatchUnpickler(fh, encoding="bytes").load()
    except (OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise DataError(f"cannot read CIFAR-10 batch {path}: {exc}") from None
    data = batch.get(b"data") if isinstance(batch, dict) else None
    labels = batch.get(b"labels") if isinstance(batch, dict) else None
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == 3 * 32 * 32 and isinstance(labels, list)
            and len(labels) == len(data)
            and all(type(v) is int and 0 <= v < 10 for v in labels)):
        raise DataError(f"{path} is not a CIFAR-10 batch (a dict with b'data', uint8 "
                        "N x 3072, and b'labels', N integers 0-9)")
    return data, labels


def load(path: str | Path, resolution: int, holdout: float = 0.2, max_images: int = 2000,
         seed: int = 0) -> Dataset:
    """Read the dataset at ``path`` at ``resolution`` px (see module doc for layouts)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"dataset folder {root} does not exist")
    if not root.is_dir():
        raise DataError(f"dataset path {root} is not a folder (expected an ImageFolder tree "
                        "or CIFAR-10 python batches)")
    if (root / "data_batch_1").is_file():
        return _cifar10(root, resolution, max_images)
    if (root / "train").is_dir() and (root / "val").is_dir():
        train, classes = _image_folder(root / "train", resolution, max_images)
        val, _ = _image_folder(root / "val", resolution, max_images, classes)
        return Dataset(train, val, classes)
    split, classes = _image_folder(root, resolution, max_images)
    train, val = _hold_out(split, holdout, seed)
    return Dataset(train, val, classes)


def _image_folder(root: Path, resolution: int, max_images: int,
                  classes: tuple[str, ...] | None = None) -> tuple[Split, tuple[str, ...]]:
    from PIL import Image, UnidentifiedImageError

    classes = classes or tuple(sorted(d.name for d in root.iterdir() if d.is_dir()))
    files = [(f, i) for i, c in enumerate(classes) if (root / c).is_dir()
             for f in sorted((root / c).iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataError(f"no images found under {root} (expected ROOT/CLASS/*.png|jpg, "
                        "or CIFAR-10 python batches)")
    files = files[:: max(1, len(files) // max_images)][:max_images]
    images = []
    for f, _ in files:
        try:
            with Image.open(f) as im:
                images.append(_to_tensor(im.convert("RGB"), resolution))
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"cannot read image {f}: {exc}") from None
    return Split(torch.stack(images), torch.tensor([i for _, i in files])), classes


def _to_tensor(image: object, resolution: int) -> torch.Tensor:
    import numpy as np

    resized = image.resize((resolution, resolution))  # type: ignore[attr-defined]
    array = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return _normalise(array)


def _normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(_MEAN).view(-1, 1, 1)
    std = torch.tensor(_STD).view(-1, 1, 1)
    return (x - mean) / std


def _hold_out(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """A seeded per-class split, so every class appears on both sides when it can."""
    gen = torch.Generator().manual_seed(seed)
    val_idx: list[int] = []
    for label in split.labels.unique():
        idx = (split.labels == label).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        val_idx += idx[: max(1, round(fraction * len(idx)))].tolist() if len(idx) > 1 else []
    mask = torch.zeros(len(split.labels), dtype=torch.bool)
    mask[val_idx] = True
    if mask.all() or not mask.any():
        raise DataError("too few images to hold some out: need at least 2 images per class")
    return (Split(split.images[~mask], split.labels[~mask]),
            Split(split.images[mask], split.labels[mask]))


def _cifar10(root: Path, resolution: int, max_images: int) -> Dataset:
    def read(names: list[str]) -> Split:
        data, labels = [], []
        for name in names:
            images, batch_labels = _read_batch(root / name)
            data.append(torch.as_tensor(images))
            labels += batch_labels
        x = torch.cat(data)[:max_images].view(-1, 3, 32, 32).float() / 255.0
        if resolution != 32:
            x = torch.nn.functional.interpolate(x, size=resolution, mode="bilinear",
                                                align_corners=False)
        return Split(_normalise(x), torch.tensor(labels[:max_images]))

    train_names = sorted(p.name for p in root.glob("data_batch_*"))
    if not (root / "test_batch").is_file():
        raise DataError(f"CIFAR-10 folder {root} has no test_batch")
    classes = tuple(str(i) for i in range(10))
    return Dataset(read(train_names), read(["test_batch"]), classes)
