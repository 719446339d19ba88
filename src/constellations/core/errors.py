"""Exception types shared by the library.

Every error caused by bad user input derives from :class:`ConstellationsError`, so
the CLI can turn it into a one-line message and exit status 2.
"""


class ConstellationsError(Exception):
    """Base class for errors caused by invalid input or parameters."""


class ConfigurationError(ConstellationsError, ValueError):
    """An array, graph or construction parameter is invalid (shape, NaN, norm, N < 2, ...)."""


class FileFormatError(ConstellationsError, OSError):
    """A file is missing, unreadable, truncated or not in the expected format."""
