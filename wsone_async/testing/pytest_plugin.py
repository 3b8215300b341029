"""pytest plugin of wsone_async (registered through the ``pytest11`` entry point)."""
