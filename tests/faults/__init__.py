"""The fault-injection and conformance suite: real server processes, peers that misbehave on purpose."""
