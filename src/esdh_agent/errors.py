"""The framework's errors: one base class, each carrying a message, a location and a hint.

The tree (the exit code a command returns when the error reaches the CLI)::

    EsdhError (1)
     ├── InputError (2)                 the user's input is wrong: options, plan, names
     │    ├── PlanError                 a GenerationPlan that cannot be generated
     │    └── SnapshotNameError         a snapshot name outside the safe pattern
     ├── WorkspaceError (1)             no workspace, or a malformed workspace file
     ├── PolicyError (1)                the governance policy forbids the request
     ├── SnapshotError (1)
     │    ├── SnapshotNotFound
     │    ├── SnapshotConflict          different content under a committed name
     │    └── SnapshotCorrupt           a checksum or the content hash does not match
     ├── ValidationFailed (5)           the validator found error-level findings
     └── LLMError (1)                   a model call failed for good
          ├── ReplayMiss                a request the cassette does not hold (never retried)
          └── BudgetExceeded            the run's call, token or time budget ran out

Only the CLI decides how an error is shown: one red line (message, location, hint), and a
traceback only under ``--debug``.
"""

from __future__ import annotations

__all__ = [
    "BudgetExceeded",
    "EsdhError",
    "ExitCode",
    "InputError",
    "LLMError",
    "PlanError",
    "PolicyError",
    "ReplayMiss",
    "SnapshotConflict",
    "SnapshotCorrupt",
    "SnapshotError",
    "SnapshotNameError",
    "SnapshotNotFound",
    "ValidationFailed",
    "WorkspaceError",
]

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes shared by every command (documented in the README)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    REFUSED = 3
    AWAITING_APPROVAL = 4
    INVALID = 5
    NEEDS_RECORDING = 6  # `critic eval`: some cases have no recording to replay
    NOT_HONOURED = 7  # `run --strict`: committed, but parts of the request were not honoured


class EsdhError(Exception):
    """Base of every error the framework raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, location: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def one_line(self) -> str:
        """The message as the CLI prints it: location, message, hint."""
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text = f"{text} (hint: {self.hint})"
        return text

    def __str__(self) -> str:
        return self.one_line()


class InputError(EsdhError):
    """The user's input (an option, a plan file, a name) is wrong."""

    exit_code = ExitCode.USAGE


class PlanError(InputError):
    """A GenerationPlan that cannot be generated as written."""


class SnapshotNameError(InputError):
    """A snapshot name outside the safe pattern."""


class WorkspaceError(EsdhError):
    """The workspace cannot be found, or one of its files is malformed."""


class PolicyError(EsdhError):
    """The governance policy forbids what was asked."""


class SnapshotError(EsdhError):
    """A snapshot store operation failed."""


class SnapshotNotFound(SnapshotError):
    """No committed snapshot has that name."""


class SnapshotConflict(SnapshotError):
    """A committed snapshot with the same name holds different content."""


class SnapshotCorrupt(SnapshotError):
    """A committed snapshot no longer matches its manifest."""


class ValidationFailed(EsdhError):
    """The validator found error-level findings; nothing was committed."""

    exit_code = ExitCode.INVALID

    def __init__(
        self,
        message: str,
        *,
        location: str | None = None,
        hint: str | None = None,
        report: object | None = None,
    ):
        super().__init__(message, location=location, hint=hint)
        self.report = report


class LLMError(EsdhError):
    """A model call failed and retrying or re-asking cannot fix it."""


class ReplayMiss(LLMError):
    """In replay mode, a request that the cassette does not hold. Never retried."""


class BudgetExceeded(LLMError):
    """The run's budget of calls, tokens or wall-clock time ran out."""
