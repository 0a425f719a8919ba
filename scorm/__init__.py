"""SCORM packages: safe opening, manifest parsing and version detection.

A plain library: it never imports flask or capcourse. The parser and package
reader arrive with the SCORM import work.
"""
