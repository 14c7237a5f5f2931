"""PostgreSQL wiring shared by every domain: declarative base, engines, sessions and the tenant scope."""
