"""Test helpers for code that uses wsone_async: an embedded WsOne simulator and pytest fixtures."""
