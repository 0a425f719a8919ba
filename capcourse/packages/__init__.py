"""SCORM packages: import content into the catalogue, export modules and courses as packages."""
