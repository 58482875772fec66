"""Beside the pipeline: the per-file cache, the no-change shortcut and incremental runs."""
