"""Protocol-faithful stand-ins for mana-auth and mana-sync, served over real HTTP on loopback.

They exist for integration tests and benchmarks; the gateway itself never imports them.
"""
