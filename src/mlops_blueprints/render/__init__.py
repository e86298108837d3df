"""Offline render: run a stack program under Pulumi mocks and write what it would deploy."""

from ._capture import Registration, RenderCapture, run_program
from ._program import (
    STACKS_ENV,
    ProgramError,
    RenderResult,
    find_level_stack,
    load_stack_config,
    parse_set_options,
    render_project,
)
from ._writers import CONFIG_FILE, RenderedFiles, write_config, write_rendered

__all__ = [
    "CONFIG_FILE",
    "STACKS_ENV",
    "ProgramError",
    "Registration",
    "RenderCapture",
    "RenderResult",
    "RenderedFiles",
    "find_level_stack",
    "load_stack_config",
    "parse_set_options",
    "render_project",
    "run_program",
    "write_config",
    "write_rendered",
]
