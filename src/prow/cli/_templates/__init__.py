"""The files ``prow new`` and ``prow startapp`` write, as plain ``*.tmpl`` text (package data).

Each file is rendered with :class:`string.Template`: ``$name`` is the project's package, and
``$$`` is a literal dollar sign. In paths, ``__name__`` becomes the package name, ``__app__``
the app's name, and a leading ``dot-`` a leading ``.`` (so that no tool hides or skips them).
They are data, not code: no linter or type checker reads a ``.tmpl`` file.
"""
