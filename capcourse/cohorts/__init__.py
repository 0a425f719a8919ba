"""Cohorts: named groups of a programme's learners, to filter learner evidence by."""
