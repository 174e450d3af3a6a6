"""The source of an action: the client's IP address (behind trusted proxies) and its location."""
