import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CodexTaskStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CODEX_TASK_STAGE_UNSPECIFIED: _ClassVar[CodexTaskStage]
    CODEX_TASK_STAGE_PLANNING: _ClassVar[CodexTaskStage]
    CODEX_TASK_STAGE_IMPLEMENTATION: _ClassVar[CodexTaskStage]
    CODEX_TASK_STAGE_REVIEW: _ClassVar[CodexTaskStage]
CODEX_TASK_STAGE_UNSPECIFIED: CodexTaskStage
CODEX_TASK_STAGE_PLANNING: CodexTaskStage
CODEX_TASK_STAGE_IMPLEMENTATION: CodexTaskStage
CODEX_TASK_STAGE_REVIEW: CodexTaskStage

class CodexReviewThread(_message.Message):
    __slots__ = ("summary", "url", "author")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    summary: str
    url: str
    author: str
    def __init__(self, summary: _Optional[str] = ..., url: _Optional[str] = ..., author: _Optional[str] = ...) -> None: ...

class CodexFailingCheck(_message.Message):
    __slots__ = ("name", "conclusion", "url", "details")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONCLUSION_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    name: str
    conclusion: str
    url: str
    details: str
    def __init__(self, name: _Optional[str] = ..., conclusion: _Optional[str] = ..., url: _Optional[str] = ..., details: _Optional[str] = ...) -> None: ...

class CodexReviewContext(_message.Message):
    __slots__ = ("summary", "review_threads", "failing_checks", "additional_notes")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    REVIEW_THREADS_FIELD_NUMBER: _ClassVar[int]
    FAILING_CHECKS_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_NOTES_FIELD_NUMBER: _ClassVar[int]
    summary: str
    review_threads: _containers.RepeatedCompositeFieldContainer[CodexReviewThread]
    failing_checks: _containers.RepeatedCompositeFieldContainer[CodexFailingCheck]
    additional_notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, summary: _Optional[str] = ..., review_threads: _Optional[_Iterable[_Union[CodexReviewThread, _Mapping]]] = ..., failing_checks: _Optional[_Iterable[_Union[CodexFailingCheck, _Mapping]]] = ..., additional_notes: _Optional[_Iterable[str]] = ...) -> None: ...

class CodexIterationsPolicy(_message.Message):
    __slots__ = ("mode", "count", "min", "max", "stop_on", "reason")
    MODE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    STOP_ON_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    mode: str
    count: int
    min: int
    max: int
    stop_on: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, mode: _Optional[str] = ..., count: _Optional[int] = ..., min: _Optional[int] = ..., max: _Optional[int] = ..., stop_on: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class CodexTask(_message.Message):
    __slots__ = ("stage", "prompt", "repository", "base", "head", "issue_number", "issue_url", "issue_title", "issue_body", "sender", "issued_at", "plan_comment_id", "plan_comment_url", "plan_comment_body", "delivery_id", "review_context", "metadata_version", "iterations", "iteration", "iteration_cycle", "autonomous")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    ISSUE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ISSUE_URL_FIELD_NUMBER: _ClassVar[int]
    ISSUE_TITLE_FIELD_NUMBER: _ClassVar[int]
    ISSUE_BODY_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    PLAN_COMMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_COMMENT_URL_FIELD_NUMBER: _ClassVar[int]
    PLAN_COMMENT_BODY_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    REVIEW_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    METADATA_VERSION_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    ITERATION_CYCLE_FIELD_NUMBER: _ClassVar[int]
    AUTONOMOUS_FIELD_NUMBER: _ClassVar[int]
    stage: CodexTaskStage
    prompt: str
    repository: str
    base: str
    head: str
    issue_number: int
    issue_url: str
    issue_title: str
    issue_body: str
    sender: str
    issued_at: _timestamp_pb2.Timestamp
    plan_comment_id: int
    plan_comment_url: str
    plan_comment_body: str
    delivery_id: str
    review_context: CodexReviewContext
    metadata_version: int
    iterations: CodexIterationsPolicy
    iteration: int
    iteration_cycle: int
    autonomous: bool
    def __init__(self, stage: _Optional[_Union[CodexTaskStage, str]] = ..., prompt: _Optional[str] = ..., repository: _Optional[str] = ..., base: _Optional[str] = ..., head: _Optional[str] = ..., issue_number: _Optional[int] = ..., issue_url: _Optional[str] = ..., issue_title: _Optional[str] = ..., issue_body: _Optional[str] = ..., sender: _Optional[str] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., plan_comment_id: _Optional[int] = ..., plan_comment_url: _Optional[str] = ..., plan_comment_body: _Optional[str] = ..., delivery_id: _Optional[str] = ..., review_context: _Optional[_Union[CodexReviewContext, _Mapping]] = ..., metadata_version: _Optional[int] = ..., iterations: _Optional[_Union[CodexIterationsPolicy, _Mapping]] = ..., iteration: _Optional[int] = ..., iteration_cycle: _Optional[int] = ..., autonomous: _Optional[bool] = ...) -> None: ...
