"""GitHub state in Postgres: webhook payloads and API reads projected into the ``github`` tables
(DESIGN §5)."""
