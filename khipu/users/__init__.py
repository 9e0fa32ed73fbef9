"""Users of a tenant: accounts, roles, activation."""
