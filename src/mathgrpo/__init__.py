"""mathgrpo: teach a small math model to reason with GRPO (TRL).

Usage: ``mathgrpo train --config recipes/demo/smollm2-cpu.yaml``
"""

__version__ = "0.1.0"
