"""Static, self-contained HTML report of a results directory."""
