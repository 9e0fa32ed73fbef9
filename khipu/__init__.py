"""Khipu Cloud: multi-tenant audiobook production."""

__version__ = "0.1.0"
