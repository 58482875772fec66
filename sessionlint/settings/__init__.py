"""Settings: the codes, `[tool.sessionlint]`, and which configuration applies to each folder."""
