"""Django's side of ``bench/admin.py``: the same order table, under Django's admin."""
