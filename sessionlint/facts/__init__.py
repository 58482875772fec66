"""Stage 3, facts: each file condensed with `ast` into picklable facts, in rounds (the fact pass)."""
