"""Delivering emitted statements from the outbox to Learning Record Stores, never losing one."""
