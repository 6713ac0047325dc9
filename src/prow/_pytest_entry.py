"""The ``pytest11`` entry point: prow's fixtures, when prow's test client can be used.

Loading ``prow.testing`` needs httpx (the ``testing`` extra). Without it this plugin adds
nothing, so installing prow never breaks an unrelated pytest run.
"""

import importlib.util

pytest_plugins = ["prow.testing._pytest"] if importlib.util.find_spec("httpx") else []
