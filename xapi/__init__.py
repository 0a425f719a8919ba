"""xAPI (Experience API 1.0.3) statements: building, validating and sending.

A plain library: it never imports flask or capcourse. The statement builders,
validator and LRS client arrive with the learning-records work.
"""
