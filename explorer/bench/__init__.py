"""Benchmarks behind `explorer bench`; each writes JSON under results/bench/."""
