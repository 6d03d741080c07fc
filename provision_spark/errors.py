"""Errors a user can act on, as opposed to bugs: the command line prints them as one line."""


class ProvisionError(Exception):
    """Base of the errors this package raises on purpose."""


class InputError(ProvisionError, ValueError):
    """The input (a path, an option, a record) is unusable; the message says which and why."""
