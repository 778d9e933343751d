"""Pure core of the Context service: no I/O, no clocks, no servers."""
