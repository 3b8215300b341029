"""Helpers shared by the test folders; a helper used by two test files lives here, once."""
