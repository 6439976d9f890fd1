"""Evidence from the run itself (issue 13): a run's output artifacts, fetched from the artifact
repository (S3/MinIO) or the Argo Server, unpacked safely, and recorded.

* :mod:`shared.artifacts.port`: the ``ArtifactStore`` port and its value types;
* :mod:`shared.artifacts.keys`: where an artifact lives when its status carries no key;
* :mod:`shared.artifacts.unpack`: Argo's tgz wrapping and the changes archive, in memory;
* :mod:`shared.artifacts.manifest`: ``metadata/manifest.json`` of the changes archive;
* :mod:`shared.artifacts.records`: the one writer of the download columns of
  ``codex_judge.artifacts``;
* :mod:`shared.artifacts.fetch`: the use case (fetch each artifact once, record, unpack).
"""
