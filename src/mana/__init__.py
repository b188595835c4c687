"""mana-mcp: the MCP gateway to a user's Mana data."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mana-mcp")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.1.0"
