"""Short-training proxy: train a freshly initialised candidate for a fixed small budget
of steps on a local dataset and report its held-out accuracy.

This is the most faithful proxy a CPU can afford, and the slowest. The budget (steps,
batch, resolution) is fixed so candidates are compared under equal compute in *steps*,
not time; the classifier keeps its 1000 outputs and the labels simply use the first ones,
so any ImageNet model trains unchanged. The dataset path comes from the ``data`` option
or ``$EXPLORER_PROXY_DATA``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from explorer import footprint
from explorer.errors import DataError, ProxyError
from explorer.measure.proxies import datasets
from explorer.measure.proxies.zero_cost import logits, train_mode
from explorer.measure.proxy import Proxy, fresh_model

if TYPE_CHECKING:
    from explorer.candidate import Candidate


class ShortTraining(Proxy):
    name = "train"
    description = "held-out accuracy (%) after a few AdamW steps on a local image dataset"

    def __init__(self, data: str | None = None, steps: int = 100, batch: int = 32,
                 resolution: int = 32, lr: float = 2e-3, holdout: float = 0.2,
                 max_images: int = 2000, **options: Any) -> None:
        path = data or os.environ.get("EXPLORER_PROXY_DATA")
        if not path:
            raise DataError("the 'train' proxy needs a dataset: pass --data PATH (an "
                            "ImageFolder tree or CIFAR-10 python batches) or set "
                            "EXPLORER_PROXY_DATA")
        for option, value in (("steps", steps), ("batch", batch), ("resolution", resolution)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ProxyError(f"the 'train' proxy's {option} must be a positive integer, "
                                 f"got {value!r}")  # 0 steps would cache an untrained score
        footprint.check_fits(2 * max_images * 3 * resolution ** 2 * footprint.BYTES_PER_VALUE,
                             f"the 'train' proxy's images (up to {max_images} per split) at "
                             f"{resolution} px")
        self.data = str(Path(path).expanduser().resolve())
        self.steps, self.batch, self.resolution, self.lr = steps, batch, resolution, lr
        self.holdout, self.max_images = holdout, max_images
        super().__init__(data=self.data, steps=steps, batch=batch, resolution=resolution,
                         lr=lr, holdout=holdout, max_images=max_images, **options)

    def compute(self, candidate: Candidate, seed: int) -> tuple[float, dict[str, Any]]:
        data = datasets.load(self.data, self.resolution, self.holdout, self.max_images, seed)
        model = train_mode(fresh_model(candidate, seed))
        n_out = logits(model(data.train.images[:2])).shape[1]
        if len(data.classes) > n_out:
            raise DataError(f"dataset {self.data} has {len(data.classes)} classes but "
                            f"{candidate.name} only {n_out} outputs")
        optimiser = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=0.05)
        gen = torch.Generator().manual_seed(seed)
        train_loss = float("nan")
        for _ in range(self.steps):
            idx = torch.randint(0, len(data.train.labels), (self.batch,), generator=gen)
            loss = F.cross_entropy(logits(model(data.train.images[idx])), data.train.labels[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            train_loss = loss.item()
        model.eval()
        with torch.no_grad():
            out = torch.cat([logits(model(x)) for x in data.val.images.split(256)])
        val_loss = float(F.cross_entropy(out, data.val.labels))
        accuracy = 100.0 * float((out.argmax(1) == data.val.labels).float().mean())
        return accuracy, {"val_loss": val_loss, "train_loss": train_loss,
                          "n_train": len(data.train.labels), "n_val": len(data.val.labels)}
