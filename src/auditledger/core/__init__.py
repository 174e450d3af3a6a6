"""The pure core: formats that do not depend on storage, services or HTTP.

The event record (``event``), its canonical bytes (``canonical``, and ``rowcanon`` from stored
column values), the Merkle tree (``merkle``), signed notes, keys and checkpoints (``note``,
``keys``, ``checkpoint``, ``signed_time``), the checks of stored columns against the record
(``columns``), export cells (``cells``) and the domain errors (``errors``). Everything else of
auditledger may import this package; it imports nothing else of auditledger
(``tests/test_architecture.py``).
"""
