"""The ``codex-judge`` command line (production commands; the local mesh adds its own)."""
