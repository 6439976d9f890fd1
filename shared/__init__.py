"""codex-judge: the project's Python package, grouped by domain (the README's "Code map").

Function entrypoints live in ``functions/<name>/main.py`` and import only from here. The local
emulator, fakes and demo live in :mod:`shared.local`, which no production package imports
(``make lint`` checks it).
"""
