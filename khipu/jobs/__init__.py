"""Jobs: the Postgres row is the truth about long work; arq on Redis only runs it."""
