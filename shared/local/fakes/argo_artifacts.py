"""The Argo Server's artifact endpoints, for the fake Argo server (:mod:`shared.local.fakes.argo`).

Routes (``ArtifactService.GetArtifactFile``, argo-workflows
``server/artifacts/artifact_server.go``)::

    GET /artifact-files/{namespace}/workflows/{name}/{nodeId}/outputs/{artifactName}
    GET /artifact-files/{namespace}/archived-workflows/{uid}/{nodeId}/outputs/{artifactName}

State: ``"artifacts": {"<namespace>/workflows/<name>/<nodeId>/<artifactName>": <base64>, ...}``
(``archived-workflows/<uid>`` for the archived form), the stored object's bytes in base64 as
JSON cannot carry bytes. A known artifact is answered 200 ``application/octet-stream`` with
``Content-Disposition: attachment; filename="<artifactName>.tgz"`` (the stored object, Argo's
tgz wrapping included); an unknown one 404 with the text body ``Not Found`` (the server's
``http.Error(w, http.StatusText(404), 404)``). Faults armed through ``/_fake/faults`` apply.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import flask

from shared.local.fakes.base import FakeStore


def artifact_key(discriminator: str, namespace: str, id_: str, node_id: str, name: str) -> str:
    """The state key of one artifact (``discriminator`` is ``workflows`` or
    ``archived-workflows``; ``id_`` the workflow name or uid accordingly)."""
    return f"{namespace}/{discriminator}/{id_}/{node_id}/{name}"


def artifacts_state(objects: Mapping[str, bytes]) -> dict[str, str]:
    """``{"<state key>": base64}`` for ``PUT /_fake/state``'s ``artifacts`` member."""
    return {key: base64.b64encode(content).decode() for key, content in objects.items()}


def install_artifact_routes(app: flask.Flask, store: FakeStore) -> None:
    """Add the artifact routes (module docstring) to the fake Argo ``app``."""

    @app.get(
        "/artifact-files/<namespace>/<any(workflows, 'archived-workflows'):discriminator>/"
        "<id_>/<node_id>/outputs/<name>"
    )
    def artifact_file(
        namespace: str, discriminator: str, id_: str, node_id: str, name: str
    ) -> flask.Response:
        key = artifact_key(discriminator, namespace, id_, node_id, name)
        with store.lock:
            encoded = (store.state.get("artifacts") or {}).get(key)
        if encoded is None:
            return flask.Response(b"Not Found\n", status=404, content_type="text/plain")
        return flask.Response(
            base64.b64decode(encoded),
            status=200,
            content_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}.tgz"'},
        )
