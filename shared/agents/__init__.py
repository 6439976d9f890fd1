"""Agent messages: NATS JetStream → Postgres → SSE (issue 15): subjects and payloads, the
ingester (a durable pull consumer), the store and its live stream, and the publisher command."""
