"""Pydantic models: our event ``data`` shapes and the external objects we read."""
