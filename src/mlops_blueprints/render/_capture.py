"""Run a Pulumi program in-process under mocks and record every registration.

The engine is replaced by a ``MockMonitor`` subclass that keeps the raw request (type, name,
parent, dependencies, protect, inputs) for each resource, components included, and the
outputs each component registers. Nothing leaves the process; no credentials are needed.
"""

from __future__ import annotations

import runpy
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import empty_pb2
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.mocks import (
    MockCallArgs,
    MockEngine,
    MockMonitor,
    MockResourceArgs,
    Mocks,
    MockSettings,
)
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from ._fakes import fake_call_result, fake_resource_state

__all__ = ["Registration", "RenderCapture", "run_program"]

_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_SIG_KEY = rpc._special_sig_key
SECRET_PLACEHOLDER = "[secret]"
_STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Registration:
    """One resource as the program asked the engine to register it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    protect: bool
    retain_on_delete: bool
    inputs: dict[str, Any]
    dependencies: tuple[str, ...]
    provider: str | None
    aliases: tuple[str, ...]


@dataclass
class RenderCapture:
    """Everything a program registered, sorted by URN.

    The runtime registers resources concurrently, so arrival order (and the order of each
    resource's dependencies) varies between runs; sorting makes two renders byte-identical.
    """

    project: str
    stack: str
    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def stack_outputs(self) -> dict[str, Any]:
        for urn, outs in self.outputs.items():
            if urn.split("::")[-2] == _STACK_TYPE:
                return outs
        return {}


def _mask(value: Any) -> Any:
    """Keep a secret's shape (so manifests still validate) but never its scalars."""
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return SECRET_PLACEHOLDER


def to_plain(value: Any) -> Any:
    """Turn deserialized Pulumi properties into JSON-compatible data.

    Secrets are masked, and integral floats (the wire format carries every number as a
    double) become ints again so manifests read as Kubernetes expects. Keys are sorted: the
    order inputs arrive in depends on when their outputs resolved.
    """
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return _mask(to_plain(value.get("value")))
        return {str(k): to_plain(v) for k, v in sorted(value.items()) if k != _SIG_KEY}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, pulumi.Resource):
        return f"[resource {type(value).__name__}]"
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _alias_text(alias: Any) -> str:
    """An alias as text: its URN, or the name/type/parent it was declared with."""
    if alias.urn:
        return str(alias.urn)
    spec = alias.spec
    parts = [
        f"{key}={getattr(spec, key)}" for key in ("name", "type", "parentUrn") if getattr(spec, key)
    ]
    return "spec(" + ", ".join(parts) + ")"


def _is_provider_type_rename(alias: Any) -> bool:
    # Provider SDKs alias their own renamed types (BucketV2 -> Bucket); that is not ours.
    return (
        not alias.urn and bool(alias.spec.type) and not alias.spec.name and not alias.spec.parentUrn
    )


class _CaptureMonitor(MockMonitor):
    def __init__(self, mocks: Mocks, capture: RenderCapture) -> None:
        super().__init__(mocks)
        self._capture = capture
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the engine does: the parent's full qualified type chain, without the root stack.
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != _STACK_TYPE:
                type_ = f"{parent_type}${type_}"
        return f"urn:pulumi:{settings.get_stack()}::{settings.get_project()}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type == _STACK_TYPE:
            return response
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        registration = Registration(
            urn=self.make_urn(request.parent, request.type, request.name),
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            inputs=to_plain(inputs),
            dependencies=tuple(sorted(set(request.dependencies))),
            provider=request.provider or None,
            aliases=tuple(
                _alias_text(alias)
                for alias in request.aliases
                if not _is_provider_type_rename(alias)
            ),
        )
        with self._lock:
            self._capture.registrations.append(registration)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        outputs = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
        with self._lock:
            self._capture.outputs[request.urn] = to_plain(outputs)
        return empty_pb2.Empty()


class _BlueprintMocks(Mocks):
    """Answers with plausible provider outputs (ARNs, endpoints) so programs run to the end."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        return fake_resource_state(args.typ, args.name, dict(args.inputs))

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]]]:
        # The monitor iterates the failures list: it must be a list, never None.
        return fake_call_result(args.token, dict(args.args)), []


def run_program(
    program: Callable[[], object] | Path,
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
) -> RenderCapture:
    """Run a program (a callable, or a ``__main__.py`` path) under mocks and capture it.

    ``config`` keys are fully qualified (``project:key``); values are strings, as the engine
    hands them to programs. Exceptions raised by the program propagate unchanged.
    """
    capture = RenderCapture(project=project, stack=stack)
    mocks = _BlueprintMocks()
    monitor = _CaptureMonitor(mocks, capture)
    settings.ROOT.set(None)
    settings.configure(
        MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(empty_pb2.Empty()).supportedFeatures),
            engine=MockEngine(None),
            project=project,
            stack=stack,
            dry_run=False,
            organization="organization",
            callbacks=None,
        )
    )
    set_all_config(dict(config))

    if isinstance(program, Path):
        main_path = program

        def program_fn() -> None:
            sys.path.insert(0, str(main_path.parent))
            try:
                runpy.run_path(str(main_path), run_name="__main__")
            finally:
                sys.path.remove(str(main_path.parent))

        _sync_await(run_in_stack(program_fn))
    else:
        callable_program = program
        _sync_await(run_in_stack(lambda: (callable_program(), None)[1]))
    capture.registrations.sort(key=lambda r: r.urn)
    capture.outputs = dict(sorted(capture.outputs.items()))
    return capture
