"""Fake external services for tests: local HTTP servers speaking the real APIs' shapes."""
