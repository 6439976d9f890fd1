"""Durable waits: timers ("check again later" as a row), reconcile of gates waiting on GitHub, and
orphaned waits (DESIGN §2, §12.1)."""
