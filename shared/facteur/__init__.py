"""Facteur's wire contract: the protobuf ``CodexTask`` (``codex_task.proto``) and the generated
``codex_task_pb2`` module (checked in; regenerate with grpcio-tools' protoc, see the .proto)."""
