"""The soak: the whole local mesh under load and faults, then invariants (issue 10).

``make soak`` (:mod:`tests.soak.__main__`) seeds 300 repositories; ``test_soak.py`` runs a
small seeded one under the ``soak`` marker.
"""
