"""Mappings from modules and activities to framework items, with their history."""
