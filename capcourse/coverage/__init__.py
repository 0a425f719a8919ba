"""Curriculum coverage: what a programme covers of a framework, how deeply, and where the gaps are."""
