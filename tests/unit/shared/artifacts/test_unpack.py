"""Safe unpacking of run artifacts and the changes manifest: real Codex output wrapped the way
Argo stores it, and hostile archives that must become findings, never files or crashes."""

from __future__ import annotations

import json

import pytest

from shared.artifacts.manifest import ManifestError, parse_manifest
from shared.artifacts.unpack import Limits, unpack
from tests.support.archives import (
    CORPUS,
    SHA,
    argo_wrapped,
    changes_archive,
    device,
    gzip_bomb,
    link,
    manifest,
    tar_gz,
)

EVENTS = (CORPUS / "codex-exec" / "failure.vincent.jsonl").read_bytes()


def test_argo_wrapped_file_unpacks_to_the_file_itself() -> None:
    found = unpack(argo_wrapped("events.jsonl", EVENTS), "codex-events")
    assert [f.path for f in found.files] == ["events.jsonl"]
    assert found.files[0].content == EVENTS
    assert found.layers == ("gzip", "tar")
    assert found.findings == ()


def test_a_raw_log_is_one_file_named_after_the_artifact() -> None:
    found = unpack(b"Error (exit code 1)\n", "main-logs")
    assert [(f.path, f.content) for f in found.files] == [("main-logs", b"Error (exit code 1)\n")]
    assert found.layers == ()


def test_changes_archive_inside_argo_wrapping_is_opened_and_its_manifest_parsed() -> None:
    wrapped = argo_wrapped(".codex-implementation-changes.tar.gz", changes_archive())
    found = unpack(wrapped, "implementation-changes")
    assert found.layers == ("gzip", "tar", "gzip", "tar")
    entry = found.file("metadata/manifest.json")
    assert entry is not None
    parsed = parse_manifest(entry.content)
    assert parsed.commit == SHA
    assert parsed.session == "0199a213-81c0-7800-8aa1-bbab2a035a53"
    assert [(f.path, f.status) for f in parsed.files] == [
        ("src/cli.py", "M"),
        ("tests/test_cli.py", None),
    ]


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc/shadow", "a/../../escape.txt", "C:/windows/x"]
)
def test_path_traversal_is_a_finding_and_its_content_is_not_read(name: str) -> None:
    found = unpack(changes_archive(extra=[(name, b"owned")]), "changes")
    assert [(f.kind, f.member) for f in found.findings] == [("path_traversal", name)]
    assert all(f.content != b"owned" for f in found.files)
    assert found.file("metadata/manifest.json") is not None


def test_links_and_devices_are_findings_never_followed() -> None:
    archive = changes_archive(
        extra=[
            link("evil-sym", "/etc/passwd"),
            link("evil-hard", "/etc/shadow", hard=True),
            device("null"),
        ]
    )
    found = unpack(archive, "changes")
    assert [(f.kind, f.member) for f in found.findings] == [
        ("link", "evil-sym"),
        ("link", "evil-hard"),
        ("special", "null"),
    ]
    assert {f.path for f in found.files} == {"metadata/manifest.json", "changes.patch"}


def test_a_gzip_bomb_stops_at_the_cap_as_a_finding() -> None:
    bomb = gzip_bomb(16 * 1024 * 1024)
    assert len(bomb) < 64 * 1024
    found = unpack(bomb, "bomb", Limits(max_total_bytes=1024 * 1024))
    assert [f.kind for f in found.findings] == ["too_large"]
    assert sum(f.size for f in found.files) <= 1024 * 1024


def test_too_many_members_and_an_oversized_member_are_findings() -> None:
    many = tar_gz([(f"f{i}.txt", b"x") for i in range(50)])
    found = unpack(many, "many", Limits(max_members=10))
    assert len(found.files) == 10
    assert [f.kind for f in found.findings] == ["too_many_members"]

    big = tar_gz([("big.bin", b"y" * 5000), ("small.txt", b"ok")])
    found = unpack(big, "big", Limits(max_member_bytes=4096))
    assert [(f.kind, f.member) for f in found.findings] == [("member_too_large", "big.bin")]
    assert [f.path for f in found.files] == ["small.txt"]


def test_a_truncated_archive_keeps_what_was_read_and_records_corruption() -> None:
    archive = tar_gz([("a.txt", b"a" * 4000), ("b.txt", b"b" * 40_000)])
    found = unpack(archive[: len(archive) // 2], "cut")
    assert "corrupt" in {f.kind for f in found.findings}


def test_manifest_errors_name_the_field() -> None:
    with pytest.raises(ManifestError, match=r"manifest\.commit"):
        parse_manifest(json.dumps(manifest(commit="not-a-sha")).encode())
    with pytest.raises(ManifestError, match="expected a JSON object"):
        parse_manifest(b"[1, 2]")
    with pytest.raises(ManifestError, match="not UTF-8 JSON"):
        parse_manifest(b"\xff{")


def test_a_large_artifact_inflates_whole_across_chunks() -> None:
    # Far more output than one inflate chunk (64 KiB) from little input: every byte comes out.
    log = EVENTS * (2 * 1024 * 1024 // len(EVENTS) + 1)
    found = unpack(argo_wrapped("events.jsonl", log), "codex-events")
    assert found.findings == ()
    assert found.files[0].content == log
