"""hero_assistance: peer-to-peer support and ticketing over the mycelium overlay.

The parts live in their own sub-packages: :mod:`hero_assistance.core` (the domain),
:mod:`hero_assistance.transport` (the wire and the client SDK), :mod:`hero_assistance.supervisor`
(process lifecycles and the command line) and :mod:`hero_assistance.ui` (the browser front end).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hero-assistance")
except PackageNotFoundError:  # running from a tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
