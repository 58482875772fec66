"""The shared semantic model: per-file facts, the project index, per-node answers for rules."""
