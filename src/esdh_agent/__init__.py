"""ESDH agent: governed, reproducible synthetic insurance test data."""

__version__ = "0.1.0"
__all__ = ["__version__"]
