"""Tamper evidence: canonical bytes, the Merkle log, signed checkpoints, proofs and verification."""
