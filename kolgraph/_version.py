"""The installed version, in a leaf module so that low layers can record it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kolgraph")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
