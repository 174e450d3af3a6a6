"""``auditledger witness``: a C2SP tlog-witness for other logs (not the witness copy of
:mod:`auditledger.integrity.witness`, which is this deployment's own file of what it signed)."""
