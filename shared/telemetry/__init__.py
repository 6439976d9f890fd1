"""Process telemetry (DESIGN §10): :mod:`.logs` (one JSON line per record) and
:mod:`.observability` (OpenTelemetry traces and metrics). Configured once per process by the
container (:func:`shared.bootstrap.container`); used by the runtime for each event.
"""
