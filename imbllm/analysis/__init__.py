"""Analysis of logged runs: rank statistics, figures, findings and the generated report."""
