"""Im2GPS low-level descriptors (installed as ``dgae.features``)."""
__all__ = []
