"""coursegen: grounded course outlines from a library of book summaries."""

__version__ = "0.1.0"
