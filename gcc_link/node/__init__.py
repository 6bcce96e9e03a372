"""The GCC Link node: one member state's server (Flask), its store and delivery workers.

The protocol itself (envelopes, receipts, PKI, directory) lives in the pure
core (``gcc_link.*``); this subpackage is the adapter around it: HTTP APIs
(peer, agency, OAuth, operations), SQLAlchemy persistence, delivery workers,
the hash-chained message log and evidence bundles.
"""
