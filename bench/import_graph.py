"""Import-graph counts of a checkout's package (modules, edges, cycles, back-edges); the code is
``benchkit.import_graph``, which tests/test_structure.py uses too.

Usage: python bench/import_graph.py [CHECKOUT]   (default: this repository)
"""

import sys

from benchkit.import_graph import main

if __name__ == "__main__":
    sys.exit(main())
