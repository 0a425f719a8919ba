"""1EdTech CASE: frameworks as CASE packages, the CASE provider API, and import.

- :mod:`.export` turns a framework into a CFPackage (CASE 1.1, or 1.0 on request);
- :mod:`.provider` answers the CASE REST API at ``/ims/case/v1p1/…`` and ``/ims/case/v1p0/…``;
- :mod:`.importing` reads CFPackages published by other tools (validated by
  :mod:`.schemas`) and creates or updates a framework by its identifier;
- :mod:`.fetch` reads a package from a file or an https URL, within a size cap.
"""
