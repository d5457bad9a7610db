"""Evaluation: test-collection loaders, first stages, metrics and reports."""
