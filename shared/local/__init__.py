"""The local mesh: the Knative emulator (broker, sources, supervisor), the wire-level fakes of the
outside services, and the recorded demo. Never imported by ``functions/``; not used in the
cluster."""
