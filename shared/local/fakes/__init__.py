"""Local fakes of the external systems (DESIGN §7): small Flask apps that speak the real wire
protocol, so the real adapters run against them unchanged. See :mod:`shared.local.fakes.base`."""
