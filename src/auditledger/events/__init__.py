"""The audit event: what one entry of the log holds."""
