"""Safe, in-memory unpacking of run artifacts: Argo's tar+gzip wrapping and the changes archive
(``.codex-implementation-changes.tar.gz``). Pure: nothing is written to disk, nothing is
extracted, no path is ever opened.

Argo saves a file output as a gzip-compressed tar holding that one file (the default ``tar``
archive strategy, argo-workflows ``workflow/executor``); a log saved by ``archiveLogs`` is the
raw text. So an artifact is read layer by layer: gzip (RFC 1952) is decompressed, a tar
(POSIX.1-2001 / GNU) is listed, and a tar holding exactly one member that is itself an archive
is opened again (the changes archive inside Argo's wrapping), at most ``max_depth`` layers.

What is refused, recorded as a :class:`Finding` and never followed or raised:

* ``path_traversal``: an absolute member name, a drive letter, or a ``..`` component;
* ``link``: a symbolic or hard link (its target is not read);
* ``special``: a character/block device, FIFO or other non-regular member;
* ``too_many_members``: more than ``max_members`` members (listing stops there);
* ``member_too_large``: a member over ``max_member_bytes`` (its content is not read);
* ``too_large``: more than ``max_total_bytes`` decompressed or in members in all (a gzip or
  tar bomb; reading stops there);
* ``corrupt``: a gzip or tar stream that ends early or fails its checksum (a truncated
  artifact ends this way; what was read before stays).

Two more kinds are recorded by :mod:`shared.artifacts.fetch` about the changes manifest:
``manifest_invalid`` (unreadable ``metadata/manifest.json``) and ``manifest_commit_mismatch``
(its ``commit`` is not the run's head SHA).

The caps are :class:`Limits` (settings ``artifact_unpack_*``).
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import zlib
from typing import Literal

from pydantic import BaseModel, ConfigDict

FindingKind = Literal[
    "path_traversal",
    "link",
    "special",
    "too_many_members",
    "member_too_large",
    "too_large",
    "corrupt",
    "manifest_invalid",
    "manifest_commit_mismatch",
]
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 64 * 1024


class Limits(BaseModel):
    """Caps for one artifact (module docstring). Sizes are bytes."""

    model_config = ConfigDict(frozen=True)

    max_members: int = 2000
    max_member_bytes: int = 8 * 1024 * 1024
    max_total_bytes: int = 64 * 1024 * 1024
    max_depth: int = 3


class Finding(BaseModel):
    """Something refused while unpacking.

    Attributes:
        kind: see :data:`FindingKind`.
        member: the member's name as stored in the archive (None for the whole stream).
        detail: one line: the link target, the size and the cap, the parser's message.
    """

    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    member: str | None = None
    detail: str


class UnpackedFile(BaseModel):
    """One regular file read from the artifact: its normalised POSIX path inside the archive
    (or the artifact's own name for a plain object) and its bytes."""

    model_config = ConfigDict(frozen=True)

    path: str
    content: bytes

    @property
    def size(self) -> int:
        """Bytes."""
        return len(self.content)


class Unpacked(BaseModel):
    """What an artifact holds.

    Attributes:
        files: the regular files read, in archive order.
        findings: what was refused (module docstring), in the order met.
        layers: the layers opened, outermost first (``("gzip", "tar", "gzip", "tar")`` for
            the changes archive inside Argo's wrapping; empty for a plain object).
    """

    model_config = ConfigDict(frozen=True)

    files: tuple[UnpackedFile, ...] = ()
    findings: tuple[Finding, ...] = ()
    layers: tuple[str, ...] = ()

    def file(self, path: str) -> UnpackedFile | None:
        """The file at ``path`` (normalised like member names), or None."""
        wanted = posixpath.normpath(path.lstrip("/"))
        return next((f for f in self.files if f.path == wanted), None)


def unpack(data: bytes, name: str, limits: Limits | None = None) -> Unpacked:
    """Open ``data`` layer by layer (module docstring).

    Args:
        data: the artifact's bytes as the store answered them.
        name: the artifact's name, used as the file name of a plain object.
        limits: the caps; None → :class:`Limits` defaults.

    Returns:
        The files and the findings; never raises on hostile or broken input.
    """
    return _open(data, name, limits or Limits(), depth=0, layers=())


def _open(
    data: bytes, name: str, limits: Limits, *, depth: int, layers: tuple[str, ...]
) -> Unpacked:
    findings: list[Finding] = []
    if data[:2] == _GZIP_MAGIC:
        data, problem = _gunzip(data, limits.max_total_bytes)
        layers += ("gzip",)
        if problem:
            findings.append(problem)
    members = _tar(data, limits) if _is_tar(data) else None
    if members is None:
        return Unpacked(
            files=(UnpackedFile(path=_plain_name(name), content=data),),
            findings=tuple(findings),
            layers=layers,
        )
    files, tar_findings = members
    findings.extend(tar_findings)
    layers += ("tar",)
    if len(files) == 1 and depth + 1 < limits.max_depth and _is_archive(files[0].content):
        inner = _open(files[0].content, files[0].path, limits, depth=depth + 1, layers=layers)
        return inner.model_copy(update={"findings": tuple(findings) + inner.findings})
    return Unpacked(files=tuple(files), findings=tuple(findings), layers=layers)


def _plain_name(name: str) -> str:
    return posixpath.basename(name.rstrip("/")) or "artifact"


def _is_archive(data: bytes) -> bool:
    return data[:2] == _GZIP_MAGIC or _is_tar(data)


def _is_tar(data: bytes) -> bool:
    # ustar magic at offset 257 (POSIX and GNU); old v7 tars without it are not accepted.
    return len(data) >= 512 and data[257:262] == b"ustar"


def _gunzip(data: bytes, cap: int) -> tuple[bytes, Finding | None]:
    """Decompress every gzip member of ``data``, at most ``cap`` bytes out."""
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = rest
        try:
            while not inflater.eof:
                # Called again with the input used up, zlib still hands out buffered output.
                piece = inflater.decompress(pending, _CHUNK)
                pending = inflater.unconsumed_tail
                out += piece
                if len(out) > cap:
                    return bytes(out[:cap]), Finding(
                        kind="too_large",
                        detail=f"gzip stream inflates past {cap} bytes; read stopped there",
                    )
                if not piece and not pending:
                    break
        except zlib.error as exc:
            return bytes(out), Finding(kind="corrupt", detail=f"gzip: {exc}")
        if not inflater.eof:
            return bytes(out), Finding(kind="corrupt", detail="gzip: stream ends early")
        rest = inflater.unused_data.lstrip(b"\x00")
        if rest[:2] != _GZIP_MAGIC:
            break
    return bytes(out), None


def _safe_path(raw: str) -> str | None:
    """The member's normalised relative POSIX path, or None when it escapes the archive."""
    name = raw.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    if any(part == ".." for part in name.split("/")):
        return None
    normal = posixpath.normpath(name)
    return None if normal in (".", "") or normal.startswith("../") else normal


def _tar(data: bytes, limits: Limits) -> tuple[list[UnpackedFile], list[Finding]]:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            return _members(archive, limits)
    except (tarfile.TarError, EOFError, ValueError) as exc:
        return [], [Finding(kind="corrupt", detail=f"tar: {exc}")]


def _members(archive: tarfile.TarFile, limits: Limits) -> tuple[list[UnpackedFile], list[Finding]]:
    files: list[UnpackedFile] = []
    findings: list[Finding] = []
    total = 0
    count = 0
    while True:
        try:
            member = archive.next()
        except (tarfile.TarError, EOFError, ValueError, OSError) as exc:
            findings.append(Finding(kind="corrupt", detail=f"tar: {exc}"))
            break
        if member is None:
            break
        count += 1
        if count > limits.max_members:
            findings.append(
                Finding(
                    kind="too_many_members",
                    member=member.name,
                    detail=f"more than {limits.max_members} members; listing stopped here",
                )
            )
            break
        finding = _refusal(member, limits)
        if finding is not None:
            findings.append(finding)
            continue
        if not member.isreg():
            continue  # a directory: nothing to read
        if total + member.size > limits.max_total_bytes:
            findings.append(
                Finding(
                    kind="too_large",
                    member=member.name,
                    detail=f"members exceed {limits.max_total_bytes} bytes in all; "
                    "reading stopped here",
                )
            )
            break
        handle = archive.extractfile(member)
        try:
            content = handle.read(member.size) if handle else b""
        except (tarfile.TarError, EOFError, OSError) as exc:
            findings.append(Finding(kind="corrupt", member=member.name, detail=f"tar: {exc}"))
            break
        total += len(content)
        path = _safe_path(member.name)
        assert path is not None  # _refusal checked it
        files.append(UnpackedFile(path=path, content=content))
    return files, findings


def _refusal(member: tarfile.TarInfo, limits: Limits) -> Finding | None:
    """Why ``member`` is not read, or None when it is a safe regular file or directory."""
    if _safe_path(member.name) is None:
        return Finding(
            kind="path_traversal", member=member.name, detail="absolute or '..' member name"
        )
    if member.issym() or member.islnk():
        kind = "symbolic" if member.issym() else "hard"
        return Finding(
            kind="link", member=member.name, detail=f"{kind} link to {member.linkname!r}"
        )
    if not (member.isreg() or member.isdir()):
        return Finding(
            kind="special", member=member.name, detail=f"tar type {member.type!r} is not a file"
        )
    if member.isreg() and member.size > limits.max_member_bytes:
        return Finding(
            kind="member_too_large",
            member=member.name,
            detail=f"{member.size} bytes; the cap is {limits.max_member_bytes}",
        )
    return None
