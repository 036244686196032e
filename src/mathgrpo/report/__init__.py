"""Reports: read a run folder from disk, its tables, plots, model card and the `report` verb. Imports
nothing of training (only evaluation's metrics, for the shared comparison table).

Usage: ``mathgrpo report RUN_DIR``
"""
