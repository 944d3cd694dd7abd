"""User-facing errors with documented exit codes.

Every error a user can cause (bad path, malformed config, offline Hub, unsafe checkpoint, ...) is
raised as a :class:`UserError` subclass. The CLI prints its message as one line and exits with its
code; a traceback is shown only with ``--debug``.

Exit codes (also in the README):

==  ==========================================================================
0   success
1   internal error (a bug: please report it with ``--debug`` output)
2   bad command-line usage (unknown flag, malformed option value)
3   bad input: missing file, malformed config or data, corpus too short, ...
4   model or data not reachable: unknown Hub id, offline without a local copy
5   numerical failure: non-finite values in weights, activations or gradients
6   refused for safety: remote code or pickle checkpoints without the opt-in flag
7   gate failed: ``compare --fail-outside-interval`` found a model outside
8   a ``--list`` run finished, but one or more of its models failed (each
    failure is recorded in the store; ``report --list`` lists them)
==  ==========================================================================
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by the user's input; printed as one line, never as a traceback."""

    exit_code = 3

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(UserError):
    exit_code = 2


class InputError(UserError):
    exit_code = 3


class NotReachableError(UserError):
    exit_code = 4


class NumericalError(UserError):
    exit_code = 5


class UnsafeError(UserError):
    exit_code = 6


class GateFailed(UserError):
    exit_code = 7


class BatchFailed(UserError):
    """``audit --list`` / ``eval --list`` ran every model, and at least one failed."""

    exit_code = 8
