"""statmech-nn: the statistical mechanics of neural networks as a reproducible study."""

__version__ = "0.1.0"
