"""Tenants: the directory of organisations and their platform administration."""
