"""Real stand-ins for the outside world (servers on loopback, a clock tests can move)."""
