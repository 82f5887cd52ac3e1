"""Pure rules: no I/O, no clock, no randomness. Time and random values arrive as arguments."""
