"""The library's configuration error, below every module that raises it."""


class ConfigError(ValueError):
    """A setting that cannot work; the message names the field and the allowed values."""
