"""The runtime every function shares: the HTTP gate and input limits, the CloudEvents envelope, the
inbox and the delivery contract, route tables, publishing to the sink, logs and telemetry, and the
container command (DESIGN §6, §8, §10)."""
