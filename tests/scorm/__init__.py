"""Tests of the SCORM library (scorm/)."""
