"""Policy: the effective policy of a repository, and the versioned policy packs it is layered
from."""
