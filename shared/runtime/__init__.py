"""The runtime every function shares (DESIGN §6, §8, §10).

Modules: :mod:`.gate` and :mod:`.limits` (the HTTP gate and input limits), :mod:`.envelope`
(the one translation to and from the CloudEvents SDK), :mod:`.outcomes` (what a use case
answers and is given), :mod:`.inbox` (exactly once per consumer), :mod:`.dead_letters` (the one
writer of ``runtime.dead_letters``), :mod:`.handler` (the HTTP wrapper and the delivery
contract's error mapping), :mod:`.routing` (route tables), :mod:`.serve` (the container
command). Logs and traces are :mod:`shared.telemetry`; publishing to the sink is the
:class:`shared.ports.Broker` port.
"""
