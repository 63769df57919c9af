"""Behavioural contracts found by mutation testing (pyproject.toml [tool.mutmut])."""
