"""Benchmarks: they print figures and ratios; they assert nothing."""
