"""cxbot: survey signals to dealer action."""
