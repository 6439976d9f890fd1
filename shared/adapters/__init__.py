"""HTTP adapters for the ports in :mod:`shared.ports` (DESIGN §7); the only code that imports
httpx for GitHub, the language model and Discord."""
