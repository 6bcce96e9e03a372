"""The pure protocol core of GCC Link (protocol v1).

Everything the federation agrees on lives here: identifiers, RFC 8785
canonical JSON, the ES256 JWS envelope, messages, receipts, node statuses
and the other signed documents, the GCC PKI, the multi-party member
directory, the message-log hash chain and offline evidence. Modules take
bytes and an explicit time and return frozen dataclasses or raise a
``GccLinkError``; they read no clock and no file and import no web
framework, database, HTTP client or CLI library, so any adapter (the node
server, the CLI, the portal) can use them and tests can pin time.
"""
