"""envlock: Azure ML environments as versioned, hashed artifacts kept in source control."""

__version__ = "0.2.0"
