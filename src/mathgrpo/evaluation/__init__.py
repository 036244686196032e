"""Evaluation: benchmark definitions, generation backends, eval folders, metrics, the `eval` verb and
pass rates for difficulty filtering. Imports data and grading, never training or reports.

Usage: ``mathgrpo eval --model MODEL --benchmarks math500``
"""
