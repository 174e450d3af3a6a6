"""The ``auditledger`` command line."""
