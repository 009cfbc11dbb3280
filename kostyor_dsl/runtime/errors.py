"""Runtime errors. Each may cross a Celery boundary, so each pickles by its args."""

from __future__ import annotations


class RuntimeProblem(Exception):
    """Base of the runtime's own errors: a message a user can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self):
        return (type(self), self.args)

    def __str__(self) -> str:
        return self.message


class PlanError(RuntimeProblem):
    """The plan file is missing, unreadable or does not match the plan schema."""


class PlanRefused(RuntimeProblem):
    """`kostyorc run` will not submit this plan: edited, stale, or beyond the driver."""


class DriverError(RuntimeProblem):
    """No such driver, or the driver cannot be loaded."""


class ParameterError(RuntimeProblem):
    """A driver parameter is unknown, missing or of the wrong type."""


class UnknownRun(RuntimeProblem):
    """The run id is not known to this state store."""


class InvalidTransition(RuntimeProblem):
    """A control verb that does not apply to the run's current state."""


class BrokerUnreachable(RuntimeProblem):
    """The broker (or the result backend) did not answer."""


class UnsupportedAction(RuntimeProblem):
    """The driver does not implement a hook action the plan asks for."""


class StepFailed(RuntimeProblem):
    """A step's driver work failed; the run stops on it."""

    def __init__(self, message: str, step_id: str = "", run_id: str = "") -> None:
        super().__init__(message)
        self.step_id = step_id
        self.run_id = run_id

    def __reduce__(self):
        return (type(self), (self.message, self.step_id, self.run_id))


class CorruptRecord(RuntimeProblem):
    """A run's stored state (a file of the state folder, or a Redis key) cannot be read."""


class StoreNotDurable(RuntimeProblem):
    """The run store would lose the run's state on a restart (Redis keeping nothing on disk)."""
