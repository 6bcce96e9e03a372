"""GCC Link: signed, asynchronous message exchange between GCC e-government agencies.

Layers, bottom to top: ``gcc_link.protocol`` (the pure protocol core: no
I/O, no clock), ``gcc_link.node`` (the node server: Flask, SQLAlchemy,
HTTP transport) beside ``knowledge_portal`` (the portal), and
``gcc_link.cli`` (the ``gcc-link`` command) on top.
"""

__version__ = "0.1.0"
