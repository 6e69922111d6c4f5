"""Latency backends: one small interface (:mod:`.base`), one module per backend, and the
registry that looks them up by name (:mod:`.registry`).

Runtimes that run a model on this host (:mod:`.runtimes`): ``ort``, ``torch``,
``torch-compile``, ``cuda``, ``coreml``. Backends that predict or look up instead:
``lut[:BACKEND]`` and ``lut:device:NAME`` (:mod:`.lut`), ``device:NAME`` (:mod:`.device`),
``model:PROFILE`` (:mod:`.model`). Their data (latency tables, imported latencies, device
profiles) lives one layer down, in :mod:`explorer.measure.lut`,
:mod:`explorer.measure.devicelut`, :mod:`explorer.measure.device` and
:mod:`explorer.measure.profiles`.

This ``__init__`` imports nothing, so a table module can use a runtime without loading
the backends that are built on the table.
"""
