"""Stage 1, discover: the files to check, their module names (source roots), the project they belong to."""
