"""Tar+gzip archives built in memory for the artifact tests: Argo's wrapping of one file
(``tar -czf`` of the output path, as the Argo executor saves an artifact), the changes archive
with its manifest, and hostile archives (traversal, links, devices, bombs)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
SHA = "0123456789abcdef0123456789abcdef01234567"


def tar_gz(members: Iterable[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    """A gzip tar of ``members``: ``(path, content)`` regular files or prepared ``TarInfo``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
                continue
            path, content = member
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def argo_wrapped(file_name: str, content: bytes) -> bytes:
    """How Argo stores a file output: a gzip tar holding that one file by its base name."""
    return tar_gz([(file_name, content)])


def manifest(**overrides: Any) -> dict[str, Any]:
    """A version-1 manifest (see shared.artifacts.manifest), fields overridable."""
    document: dict[str, Any] = {
        "version": 1,
        "prompt": "Implement issue 42: add a --dry-run flag",
        "session": "0199a213-81c0-7800-8aa1-bbab2a035a53",
        "commit": SHA,
        "files": [{"path": "src/cli.py", "status": "M"}, "tests/test_cli.py"],
    }
    document.update(overrides)
    return document


def changes_archive(
    document: Mapping[str, Any] | None = None,
    extra: Iterable[tarfile.TarInfo | tuple[str, bytes]] = (),
) -> bytes:
    """The changes archive: ``metadata/manifest.json``, a patch, then ``extra`` members."""
    patch = b"diff --git a/src/cli.py b/src/cli.py\n"
    body = json.dumps(document if document is not None else manifest()).encode()
    return tar_gz([("metadata/manifest.json", body), ("changes.patch", patch), *extra])


def link(path: str, target: str, *, hard: bool = False) -> tarfile.TarInfo:
    """A symbolic (or hard) link member."""
    info = tarfile.TarInfo(path)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def device(path: str) -> tarfile.TarInfo:
    """A character device member (``/dev/null``-like)."""
    info = tarfile.TarInfo(path)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info


def gzip_bomb(inflated_bytes: int) -> bytes:
    """A gzip stream of ``inflated_bytes`` zero bytes (about a thousandth of that on the wire)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as out:
        chunk = b"\0" * (1024 * 1024)
        for _ in range(inflated_bytes // len(chunk)):
            out.write(chunk)
    return buffer.getvalue()
