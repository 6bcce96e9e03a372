"""GCC Link: signed, asynchronous message exchange between GCC e-government agencies.

The modules directly in this package are the pure protocol core: they take bytes
and an explicit time and return frozen dataclasses or raise a `GccLinkError`.
They never read the clock, the network or a database; adapters (node server,
CLI, portal) live in subpackages.
"""

__version__ = "0.1.0"
