# mypy: disable-error-code="import-untyped,untyped-decorator"
"""Django (WSGI) in one file: ``settings.configure`` and this module as the URLconf.

Middleware is the API-relevant part of ``startproject``'s default (security and common); session,
auth, messages and CSRF are left out because this app has no users and no forms.

``GET /db/{id}`` runs the shared query as SQL on Django's connection (Django has no SQLAlchemy
core; its cursor is the equivalent). ``/db/orm/{id}`` and ``/db/list`` use the ORM with a model
declared here (``db_table`` names the shared table, ``managed=False`` since ``bench/_db.py``
creates it), ``values()`` and Django's ``Paginator``.
Connections are kept between requests (``CONN_MAX_AGE=None``) as every other app's pool keeps
them; Django's default of 0 would open a new connection for every request.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from sqlalchemy.engine import URL

from bench._db import sync_url
from bench.apps import _realworld as rw
from bench.apps import _te as te


def _database(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": url.database}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.database,
        "USER": url.username or "",
        "PASSWORD": url.password or "",
        "HOST": url.host or "",
        "PORT": str(url.port or ""),
    }


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
        INSTALLED_APPS=["bench.apps.rw_django"],  # the RealWorld models (rw_ninja.py)
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [str(te.TEMPLATES)],
            }
        ],
        DATABASES={
            "default": {**_database(sync_url()), "CONN_MAX_AGE": None},
            # the RealWorld endpoints' (Django Ninja: bench/apps/rw_ninja.py)
            "conduit": {**_database(rw.sync_database_url()), "CONN_MAX_AGE": None},
        },
        DATABASE_ROUTERS=["bench.apps.rw_django.models.ConduitRouter"],
        USE_TZ=True,
        # 404s are expected in the quick check's error cases: no warning line for each.
        LOGGING={
            "version": 1,
            "disable_existing_loggers": False,
            "loggers": {"django.request": {"level": "ERROR"}},
        },
    )

import django  # noqa: E402

django.setup()

from django.core.paginator import Paginator  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection, models  # noqa: E402
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from django.views.decorators.http import require_GET, require_POST  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from bench.apps._models import Item  # noqa: E402
from bench.apps._rows import ONE_ROW_SQL, PAGE, TABLE  # noqa: E402


class BenchRow(models.Model):  # type: ignore[misc]
    name = models.CharField(max_length=50)
    price = models.FloatField()
    stock = models.IntegerField()
    active = models.BooleanField()

    class Meta:
        app_label = "bench"
        db_table = TABLE
        managed = False


_FIELDS = ("id", "name", "price", "stock", "active")


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


@require_GET
def row(request: HttpRequest, row_id: int) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(ONE_ROW_SQL, [row_id])
        found = cursor.fetchone()
    if found is None:
        raise Http404("Row not found")
    row_id, name, price, stock, active = found
    return JsonResponse(  # SQLite answers booleans as 0/1, as the ORM's field would convert
        {"id": row_id, "name": name, "price": price, "stock": stock, "active": bool(active)}
    )


@require_GET
def orm_row(request: HttpRequest, row_id: int) -> HttpResponse:
    try:
        found = BenchRow.objects.values(*_FIELDS).get(pk=row_id)
    except BenchRow.DoesNotExist:
        raise Http404("Row not found") from None
    return JsonResponse(found)


@require_GET
def rows(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(BenchRow.objects.order_by("id").values(*_FIELDS), PAGE)
    page = paginator.get_page(request.GET.get("page"))
    items = list(page.object_list)
    offset = (page.number - 1) * PAGE
    return JsonResponse({"items": items, "total": paginator.count, "limit": PAGE, "offset": offset})


# -- TechEmpower's test types (bench/apps/_te.py): the ORM, bulk_update, Django's templates ----


class World(models.Model):  # type: ignore[misc]
    randomnumber = models.IntegerField()

    class Meta:
        app_label = "bench"
        db_table = "world"
        managed = False


class Fortune(models.Model):  # type: ignore[misc]
    message = models.CharField(max_length=2048)

    class Meta:
        app_label = "bench"
        db_table = "fortune"
        managed = False


_cache: dict[int, dict[str, int]] = {}


def _world(world_id: int) -> dict[str, int]:
    world = World.objects.get(id=world_id)
    return {"id": world.id, "randomNumber": world.randomnumber}


@require_GET
def queries(request: HttpRequest) -> HttpResponse:
    worlds = [_world(world_id) for world_id in te.ids(te.count(request.GET.get("n")))]
    return JsonResponse(worlds, safe=False)


@require_GET
def updates(request: HttpRequest) -> HttpResponse:
    worlds = [World.objects.get(id=i) for i in sorted(te.ids(te.count(request.GET.get("n"))))]
    for world in worlds:
        world.randomnumber = te.new_number()
    World.objects.bulk_update(worlds, ["randomnumber"])
    return JsonResponse([{"id": w.id, "randomNumber": w.randomnumber} for w in worlds], safe=False)


@require_GET
def fortunes(request: HttpRequest) -> HttpResponse:
    rows = list(Fortune.objects.all())
    rows.append(Fortune(id=0, message=te.ADDED))
    rows.sort(key=lambda fortune: fortune.message)
    return render(request, "fortunes.html", {"fortunes": rows})


@require_GET
def cached_queries(request: HttpRequest) -> HttpResponse:
    if not _cache:  # the first request fills the cache with every world
        for world in World.objects.all():
            _cache[world.id] = {"id": world.id, "randomNumber": world.randomnumber}
    found = [_cache[world_id] for world_id in te.ids(te.count(request.GET.get("n")))]
    return JsonResponse(found, safe=False)


urlpatterns = [
    path("queries", queries),
    path("updates", updates),
    path("fortunes", fortunes),
    path("cached-queries", cached_queries),
    path("plaintext", plaintext),
    path("json", json_),
    path("users/<int:user_id>", user),
    path("items", items),
    path("db/list", rows),
    path("db/<int:row_id>", row),
    path("db/orm/<int:row_id>", orm_row),
    path("", include("bench.apps.rw_ninja")),  # /api/...: the RealWorld endpoints, last
]

app = get_wsgi_application()
