"""The catalogue: programmes of courses, their modules and activities."""
