"""People signing in to the audit log: throttling failed attempts, and recording sign-ins."""
