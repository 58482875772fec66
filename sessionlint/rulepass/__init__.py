"""Stage 6, rule pass: the rules (`sessionlint.rules`) in one LibCST traversal per file, their window on the
model, `# noqa`."""
