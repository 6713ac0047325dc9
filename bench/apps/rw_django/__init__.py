"""The Django app of the RealWorld endpoints' models (``models.py``)."""
