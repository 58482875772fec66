"""Stage 8, report: the findings (`Diagnostic`, `Fix`), what a run did (`RunReport`), the output formats."""
