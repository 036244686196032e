"""Import-graph counts of a checkout's package (modules, edges, cycles, back-edges); the code is
``mathgrpo.bench.import_graph``, which tests/test_structure.py uses too.

Usage: python bench/import_graph.py [CHECKOUT]   (default: this repository)
"""

import sys

from mathgrpo.bench.import_graph import main

if __name__ == "__main__":
    sys.exit(main())
