"""Exception types.

Every error a user can cause is one of these, with a message that names the
problem and what to do about it; the CLI prints the message, not a traceback.
"""

from __future__ import annotations


class EdgeInferError(Exception):
    """Base class of every error edgeinfer raises on purpose."""


class UnsupportedModelError(EdgeInferError):
    """The model (estimator, layer, op) is not supported."""


class GraphError(EdgeInferError):
    """A graph is malformed (dangling tensor, cycle, bad attribute, shape)."""


class InputError(EdgeInferError, ValueError):
    """Data given to a model is unusable (wrong shape, NaN, wrong dtype)."""


class ModelFileError(EdgeInferError):
    """A model file is unreadable, corrupt or refused (pickle without trust)."""


class ToolchainError(EdgeInferError):
    """A compiler or emulator failed or is missing."""


class NotFittedError(EdgeInferError):
    """The estimator given has not been fitted."""
