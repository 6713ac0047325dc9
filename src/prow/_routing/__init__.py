"""Routing engine (private): path templates, the compiled table, routes and routers."""
