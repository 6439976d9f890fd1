"""One folder per Knative Service: ``main.py`` is the thin ``http`` entrypoint (``handle``),
the use case sits beside it. See DESIGN §4."""
