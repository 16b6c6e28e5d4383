"""Pure rules and values: no I/O, nothing else of cxbot."""
