"""auditledger: a tamper-evident, organization-wide audit log for machine-learning platforms."""

__version__ = "0.1.0"
