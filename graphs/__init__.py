"""POI mining and the geo-constraint pair graphs P and Q (installed as ``dgae.graphs``)."""
__all__ = []
