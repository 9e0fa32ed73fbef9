"""Authentication: local accounts (login, refresh rotation, logout, password change), Entra ID."""
