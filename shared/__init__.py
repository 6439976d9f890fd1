"""codex-judge: the project's Python package (models, runtime, db, ports, adapters, fakes, mesh).

See ``DESIGN.md`` §13 for the layout. Function entrypoints live in ``functions/<name>/main.py``
and import only from here.
"""
