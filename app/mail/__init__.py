"""Outgoing e-mail: recorded in PostgreSQL with the change that causes it, sent by a worker through a
pluggable sender (the log in development, SMTP in production)."""
