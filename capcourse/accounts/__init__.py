"""Accounts: API keys for machine clients and administrators, with roles."""
