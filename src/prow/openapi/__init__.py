"""OpenAPI 3.1 for prow apps: the document, and offline Swagger UI and ReDoc pages."""

from prow.openapi._generate import build_openapi
from prow.openapi._routes import docs_router

__all__ = ["build_openapi", "docs_router"]
