"""Export: every matching event (no cap), streamed as CSV or JSON Lines."""
