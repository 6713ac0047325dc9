# mypy: disable-error-code="import-untyped,untyped-decorator"
"""Django (WSGI) in one file: ``settings.configure`` and this module as the URLconf.

Middleware is the API-relevant part of ``startproject``'s default (security and common); session,
auth, messages and CSRF are left out because this app has no database, no users and no forms.
"""

from __future__ import annotations

from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-secret",
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
        ],
        INSTALLED_APPS=[],
        USE_TZ=True,
    )

import django

django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from django.views.decorators.http import require_GET, require_POST  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from bench.apps._models import Item  # noqa: E402


@require_GET
def plaintext(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello, World!", content_type="text/plain")


@require_GET
def json_(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"message": "Hello, World!"})


@require_GET
def user(request: HttpRequest, user_id: int) -> HttpResponse:
    return JsonResponse({"user_id": user_id, "q": request.GET.get("q")})


@csrf_exempt
@require_POST
def items(request: HttpRequest) -> HttpResponse:
    try:
        item = Item.model_validate_json(request.body)
    except ValidationError as exc:
        return HttpResponse(exc.json(), status=422, content_type="application/json")
    return HttpResponse(item.model_dump_json(), content_type="application/json")


urlpatterns = [
    path("plaintext", plaintext),
    path("json", json_),
    path("users/<int:user_id>", user),
    path("items", items),
]

app = get_wsgi_application()
