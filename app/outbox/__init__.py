"""The transactional outbox: work is recorded in PostgreSQL with the change that causes it, then
relayed to arq. Redis may lose a job; the outbox row is still there to relay again."""
