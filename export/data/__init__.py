"""Data builders of the training side."""
