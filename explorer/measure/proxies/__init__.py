"""Proxy implementations (baselines, zero-cost, short training, the fitted default) and
their validation against published accuracies. The interface and registry live in
:mod:`explorer.measure.proxy`."""
