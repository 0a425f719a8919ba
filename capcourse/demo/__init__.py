"""A demo programme, so a newcomer sees a populated dashboard after ``make run``."""
