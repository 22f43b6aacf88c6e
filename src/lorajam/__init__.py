"""LoRA Study Jam: the tested library behind the course notebooks."""

__version__ = "0.1.0"
