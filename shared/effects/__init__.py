"""Side effects at most once: the effects outbox, the recovery of an effect whose worker died, and
the guarded GitHub writes (DESIGN §5, §11)."""
