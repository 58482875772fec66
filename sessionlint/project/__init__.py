"""Stage 4, project index: cross-module answers over every file's facts (resolution, kinds, indexes)."""
