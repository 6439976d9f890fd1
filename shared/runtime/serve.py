"""``codex-judge serve``: the container's command, one function per process (DESIGN §8, §14).

Every Knative Service runs the same image with ``command: ["codex-judge", "serve"]`` and says
which function it is through functions-framework's own variables:

- ``FUNCTION_SOURCE``: the function's ``main.py``, absolute or relative to the installed
  package root (the directory that holds the installed ``functions`` package), so the
  manifests need not know where the image's virtualenv lives: ``functions/judge/main.py``.
- ``FUNCTION_TARGET`` (``handle``) and ``FUNCTION_SIGNATURE_TYPE`` (``http``).
- ``HOST`` (``0.0.0.0``) and ``PORT`` (Knative sets 8080).
- ``WORKERS`` and ``THREADS``: read by functions-framework's gunicorn application itself.

The server is started exactly as functions-framework's CLI starts it
(``create_app(target, source, signature_type)``, then ``create_server(app, debug).run(host,
port)``); only the source path is resolved first, with an error that names the variable.

Cold start is import time: this module imports the standard library only, and
functions-framework when it serves; the function's own imports come with its ``main.py``.
"""

from __future__ import annotations

from pathlib import Path

from shared.settings.serve import ServeSettings

__all__ = ["FunctionSourceError", "package_root", "resolve_source", "serve"]


class FunctionSourceError(ValueError):
    """``FUNCTION_SOURCE`` is unset or names no file; the message says which path was tried."""


def package_root() -> Path:
    """The directory that contains the installed ``functions`` package (absolute).

    In an image that is the virtualenv's ``site-packages``; in an editable checkout, the
    repository root.
    """
    import functions

    return Path(functions.__file__).resolve().parent.parent


def resolve_source(source: str | None, root: Path | None = None) -> Path:
    """The absolute path of the function's ``main.py``.

    Args:
        source: ``FUNCTION_SOURCE`` as set: an absolute path is kept as is, a relative one
            is taken against ``root``.
        root: where relative sources live; defaults to :func:`package_root`.

    Raises:
        FunctionSourceError: ``source`` is unset or empty, or the resolved path is not a file.
    """
    if not source:
        raise FunctionSourceError(
            "FUNCTION_SOURCE is not set: expected the function's main.py, absolute or relative"
            " to the installed package root, e.g. functions/judge/main.py"
        )
    path = Path(source)
    if not path.is_absolute():
        path = (root or package_root()) / path
    if not path.is_file():
        raise FunctionSourceError(
            f"FUNCTION_SOURCE={source!r} resolves to {path}, which is not a file:"
            " expected functions/<snake_name>/main.py under the installed package root"
            f" ({root or package_root()}) or an absolute path"
        )
    return path


def serve(settings: ServeSettings | None = None) -> int:
    """Serve the function ``settings`` name until gunicorn stops; returns the exit code.

    Raises:
        SystemExit: the source cannot be resolved (the message names FUNCTION_SOURCE and the
            path tried), so the container fails at start instead of at its first request.
    """
    settings = settings or ServeSettings()
    try:
        source = resolve_source(settings.function_source)
    except FunctionSourceError as exc:
        raise SystemExit(f"codex-judge serve: {exc}") from None

    from functions_framework import create_app
    from functions_framework._http import create_server

    app = create_app(  # type: ignore[no-untyped-call]
        settings.function_target, str(source), settings.function_signature_type
    )
    create_server(app, False).run(settings.host, settings.port)  # type: ignore[no-untyped-call]
    return 0
