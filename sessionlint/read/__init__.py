"""Stage 2, read: each file's bytes and text, the SL000s of what cannot be read, the parsing limits."""
