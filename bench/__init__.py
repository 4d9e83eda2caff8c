"""make bench: the benchmarks of issue 5, writing results/report.md and PNG plots."""
