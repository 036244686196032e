"""Helpers of the benchmark scripts in bench/ that tests import too: the learning benchmark's setup,
statistics and page, and the GPU memory/time estimator. The runnable scripts stay in bench/.
Nothing else in the package imports this subpackage.

Usage: ``from benchkit.stats import wilson``
"""
