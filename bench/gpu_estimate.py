"""Theoretical GPU numbers for the Qwen2.5-Math-1.5B recipes (memory per precision mode, bandwidth
and compute floors); the code is ``benchkit.gpu_estimate``, which tests import too.

Usage: python bench/gpu_estimate.py [--recipes recipes/qwen2.5-math-1.5b/*.yaml] [--budget-gib 24]
"""

import sys

from benchkit.gpu_estimate import main

if __name__ == "__main__":
    sys.exit(main())
