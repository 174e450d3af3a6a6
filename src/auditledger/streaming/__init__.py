"""Streaming: deliver each organization's log to SIEMs and brokers, in order, provably."""
