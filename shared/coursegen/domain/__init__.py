"""Pure domain logic: no I/O, no clocks, no environment. Everything here is unit-tested."""
