"""Conduit, the RealWorld example API (https://realworld-docs.netlify.app/), built with prow."""
