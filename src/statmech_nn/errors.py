"""The one exception type for user errors (bad input files, bad values).

Rule scripts turn it into a single log line without a traceback; anything else
is a bug and keeps its traceback.
"""


class InputError(ValueError):
    """A user-facing error: names the file or value and what was expected."""


class ConfigError(InputError):
    """A config value the study refuses, named by its key path."""
