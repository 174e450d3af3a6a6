"""The pure core the client and the server share: the catalog, the event's wire format and its
validator, the errors they raise, the clock, and the trusted-proxy rules for client addresses.

It imports nothing of HTTP servers or storage; the server (``auditledger``) imports it, never
the reverse, so an event the client accepts is exactly an event the server accepts.
"""
