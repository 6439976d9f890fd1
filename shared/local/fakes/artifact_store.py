"""InMemoryArtifactStore: the ``ArtifactStore`` port over a dict, for use-case tests that are
about what is recorded, not about the wire (the adapters' contract suite runs against moto and
the fake Argo server)."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.artifacts.port import ArtifactLocation, FetchedArtifact, StoreKind
from shared.errors import UpstreamError


@dataclass
class InMemoryArtifactStore:
    """Objects by artifact name; ``down`` makes every read fail like an outage.

    Attributes:
        objects: artifact name → stored bytes.
        down: raise :class:`~shared.errors.UpstreamError` instead of answering.
        reads: names asked for, in order.
    """

    objects: dict[str, bytes] = field(default_factory=dict)
    down: bool = False
    reads: list[str] = field(default_factory=list)
    kind: StoreKind = "s3"

    def fetch(self, location: ArtifactLocation, *, max_bytes: int) -> FetchedArtifact:
        """The port's read over :attr:`objects` (missing names → ``missing``)."""
        self.reads.append(location.name)
        if self.down:
            raise UpstreamError("S3 answered 503 SlowDown (in-memory outage)", service="S3")
        content = self.objects.get(location.name)
        where = f"memory://{location.name}"
        if content is None:
            return FetchedArtifact(status="missing", source=self.kind, where=where, detail="absent")
        return FetchedArtifact.read(
            self.kind, where, content[: max_bytes + 1], cap=max_bytes, size=len(content)
        )
