"""Running the service: metrics, logging."""
