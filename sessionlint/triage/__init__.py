"""Stage 5, triage: from the facts alone, which rules could flag something in which file."""
