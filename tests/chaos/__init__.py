"""chaos tier: see tests/README.md."""
