"""``python train.py [--config RECIPE.yaml] [overrides]`` -- the same as ``mathgrpo train``.

Kept at the repository root because the original README promised it.
"""

import sys

if __name__ == "__main__":
    from mathgrpo.cli import main

    sys.exit(main(["train", *sys.argv[1:]]))
