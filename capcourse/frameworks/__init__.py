"""Capability frameworks: documents, items and the associations between them.

The model follows 1EdTech CASE (CFDocument, CFItem, CFAssociation) so that CASE
export and import are a mapping of fields, not a rewrite.
"""
