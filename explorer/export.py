"""Export a candidate's deployed (fused) model: ONNX, Core ML ML program, TorchScript.

Latency backends run these same exports, so what a user profiles on a phone is exactly
what explorer timed. Failures become one :class:`BackendError` naming the format, the
model and the first line of the converter's complaint (which names the operator).
"""
from __future__ import annotations

import contextlib
import importlib
import io
import logging
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import torch
from torch import nn

from explorer.errors import BackendError, MissingDependencyError, OutputError
from explorer.files import make_dir, safe_stem

if TYPE_CHECKING:
    from explorer.candidate import Candidate

ONNX_OPSET = 17
INPUT_NAME = "input"
#: Core ML deployment target: iOS 16 is the first with every ML-program op we use
COREML_TARGET = "iOS16"


def require(module: str, package: str, purpose: str) -> ModuleType:
    """Import an optional dependency or say which package to install. Its logger is set
    to errors only first: coremltools announces its missing macOS-only parts on import."""
    logging.getLogger(module).setLevel(logging.ERROR)
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(f"{purpose} needs the '{package}' package: "
                                     f"pip install {package}") from None


def example_input(candidate: Candidate) -> torch.Tensor:
    """Batch 1 at the candidate's resolution (what every latency is measured on)."""
    return torch.randn(1, candidate.in_chans, candidate.resolution, candidate.resolution,
                       generator=torch.Generator().manual_seed(0))


@contextlib.contextmanager
def _converting(fmt: str, name: str) -> Iterator[None]:
    """Quiet converter chatter and turn its failures into one clear error."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            yield
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001 - converters raise anything; we name it
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise BackendError(f"{name}: {fmt} export failed: {first}") from exc


def onnx_bytes(module: nn.Module, example: torch.Tensor, name: str = "model") -> bytes:
    """Serialized ONNX of ``module`` (legacy TorchScript-based exporter: fast, no dynamo)."""
    require("onnx", "onnx", "ONNX export")
    buf = io.BytesIO()
    with _converting("ONNX", name), torch.no_grad():
        torch.onnx.export(module.eval(), (example,), buf, dynamo=False,
                          opset_version=ONNX_OPSET, input_names=[INPUT_NAME],
                          output_names=["output"])
    return buf.getvalue()


def torchscript(module: nn.Module, example: torch.Tensor,
                name: str = "model") -> torch.jit.ScriptModule:
    with _converting("TorchScript", name), torch.no_grad():
        return torch.jit.trace(module.eval(), example)


def coreml_model(module: nn.Module, example: torch.Tensor, name: str = "model") -> object:
    """A Core ML ML program (``coremltools.models.MLModel``) of ``module``; works on Linux."""
    with _converting("Core ML", name):
        ct = require("coremltools", "coremltools", "Core ML export")
        traced = torch.jit.trace(module.eval(), example)
        return ct.convert(traced, inputs=[ct.TensorType(name=INPUT_NAME, shape=example.shape)],
                          convert_to="mlprogram",
                          minimum_deployment_target=getattr(ct.target, COREML_TARGET))


def _write_onnx(module: nn.Module, example: torch.Tensor, path: Path, name: str) -> None:
    path.write_bytes(onnx_bytes(module, example, name))


def _write_torchscript(module: nn.Module, example: torch.Tensor, path: Path, name: str) -> None:
    torchscript(module, example, name).save(str(path))


def _write_coreml(module: nn.Module, example: torch.Tensor, path: Path, name: str) -> None:
    model = coreml_model(module, example, name)
    with _converting("Core ML", name):
        model.save(str(path))


#: format -> (file suffix, writer)
FORMATS: dict[str, tuple[str, Callable[[nn.Module, torch.Tensor, Path, str], None]]] = {
    "onnx": (".onnx", _write_onnx),
    "coreml": (".mlpackage", _write_coreml),
    "torchscript": (".pt", _write_torchscript),
}


def output_path(out: str | Path, fmt: str, name: str) -> Path:
    """``out`` itself if it ends in the format's suffix, else ``out/<name><suffix>`` with
    the name made safe (:func:`safe_stem`: a spec or study name never leaves ``out``); a
    file name for another format (``--format onnx --out m.pt``) is a mistake, not a folder."""
    suffix = FORMATS[fmt][0]
    out = Path(out)
    others = {s for s, _ in FORMATS.values()} - {suffix}
    if out.suffix in others:
        raise BackendError(f"--out {out} ends in {out.suffix}, but --format {fmt} writes "
                           f"{suffix} files: give a {suffix} file or a folder")
    return out if out.suffix == suffix else out / f"{safe_stem(name)}{suffix}"


def _check_replaceable(path: Path, fmt: str) -> None:
    """An existing target may only be a previous export of the same format: a file, or
    for Core ML a package (a folder with ``Manifest.json``). Any other folder is the
    user's, and explorer never deletes it."""
    if not path.exists() and not path.is_symlink():
        return
    previous = (not path.is_symlink() and (path / "Manifest.json").is_file()
                if fmt == "coreml" else path.is_file())
    if not previous:
        raise OutputError(f"--out {path} already exists and is not a {FORMATS[fmt][0]} "
                          f"export; explorer does not replace it: give a new file name or "
                          f"a folder to write into")


def export(candidate: Candidate, fmt: str, out: str | Path) -> Path:
    """Write the deployed model of ``candidate`` in ``fmt`` to ``out`` (a file path with the
    format's suffix, or a folder). Written beside the target first, then renamed, so a
    failed export leaves nothing behind; an existing target is replaced only when it is a
    previous export (see :func:`_check_replaceable`)."""
    if fmt not in FORMATS:
        raise BackendError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    path = output_path(out, fmt, candidate.name)
    _check_replaceable(path, fmt)
    make_dir(path.parent)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        staged = tmp / path.name
        FORMATS[fmt][1](candidate.deployed, example_input(candidate), staged, candidate.name)
        if path.is_dir():
            shutil.rmtree(path)
        staged.replace(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path
