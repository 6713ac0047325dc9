"""The admin through its pages: login, index, change list, forms, delete, history, actions."""

from __future__ import annotations

import re

from admin._shop import PASSWORD, csrf, log_in
from prow.testing import TestClient

ORDERS = "/admin/shop/order"


def test_login_is_for_active_staff_only(client: TestClient) -> None:
    answer = client.get(ORDERS + "?q=R01", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/login?next=%2Fadmin%2Fshop%2Forder%3Fq%3DR01"
    page = client.get("/admin/login").text
    form = {"username": "plain", "password": PASSWORD, "csrf_token": csrf(page)}
    refused = client.post("/admin/login", data=form)
    assert refused.status_code == 400 and "staff account" in refused.text
    assert client.get("/admin", follow_redirects=False).status_code == 303  # not logged in
    wrong = client.post("/admin/login", data={**form, "username": "boss", "password": "nope"})
    assert wrong.status_code == 400
    no_token = client.post("/admin/login", data={"username": "boss", "password": PASSWORD})
    assert no_token.status_code == 403  # CSRF
    evil = {**form, "username": "boss", "next": "//evil.example"}
    assert client.post("/admin/login", data=evil).status_code == 400
    log_in(client)
    home = client.get("/admin")
    assert home.status_code == 200 and "Signed in as <strong>boss</strong>" in home.text
    assert "default-src 'self'" in home.headers["content-security-policy"]
    assert client.post("/admin/logout", data={"csrf_token": csrf(home.text)}).status_code == 200
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_index_groups_models_by_app_with_counts(client: TestClient) -> None:
    log_in(client)
    page = client.get("/admin").text
    assert re.search(r'href="/admin/shop/order">Orders</a></th>\s*<td class="num">25</td>', page)
    assert "<h2>Auth</h2>" in page and "<h2>Shop</h2>" in page
    assert 'href="/admin/auth/user"' in page and 'href="/admin/auth/group"' in page


def test_change_list_columns_sort_search_filter_pages(client: TestClient) -> None:
    log_in(client)
    page = client.get(ORDERS).text
    assert "Customer email" in page and "bob@example.com" in page
    assert page.index("R024") < page.index("R015")  # ordering = -created_at, 10 a page
    assert "R014" not in page and 'rel="next"' in page and "25 orders" in page
    second = client.get(ORDERS + "?p=3").text
    assert "R000" in second and "R004" in second and "R005" not in second
    by_ref = client.get(ORDERS + "?o=reference").text
    assert by_ref.index("R000") < by_ref.index("R001") and "R010" not in by_ref
    assert client.get(ORDERS + "?o=-customer__email").status_code == 200
    assert client.get(ORDERS + "?o=password").status_code == 400
    found = client.get(ORDERS + "?q=ada@").text
    assert "R023" in found and "R024" not in found and "12 orders" in found
    assert "1 order" in client.get(ORDERS + "?q=R007").text
    shipped = client.get(ORDERS + "?status=shipped").text
    assert "R002" in shipped and "R001" not in shipped
    dated = client.get(ORDERS + "?created_at__gte=2030-01-20&created_at__lt=2030-01-22").text
    assert "R019" in dated and "R020" in dated and "R021" not in dated and "2 orders" in dated
    by_customer = client.get(ORDERS + "?customer=1").text
    assert "R023" in by_customer and "R024" not in by_customer
    assert "By status" in page and "By customer" in page and "Past 7 days" in page
    assert client.get(ORDERS + "?status=lost").status_code == 400
    assert client.get(ORDERS + "?created_at__gte=yesterday").status_code == 400
    assert client.get(ORDERS + "?password=x").status_code == 400
    assert client.get(ORDERS + "?p=0").status_code == 400


def test_count_is_bounded(client: TestClient) -> None:
    log_in(client)
    app = client.app
    from prow.admin import Admin

    order_admin = next(m for m in app.extension(Admin).model_admins if m.name == "order")
    type(order_admin).count_limit = 12
    try:
        page = client.get(ORDERS).text
        assert "12+ orders" in page and "count all" in page
        assert "25 orders" in client.get(ORDERS + "?_count=all").text
    finally:
        type(order_admin).count_limit = 1000


def test_add_with_errors_next_to_fields_then_fixed(client: TestClient) -> None:
    log_in(client)
    form_page = client.get(ORDERS + "/add")
    assert form_page.status_code == 200
    page = form_page.text
    assert '<select id="id_customer_id" name="customer_id"' in page
    assert "Bob &lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    token = csrf(page)
    bad = {
        "csrf_token": token,
        "reference": "X" * 30,
        "customer_id": "1",
        "total": "-5",
        "status": "new",
    }
    answer = client.post(ORDERS + "/add", data=bad)
    assert answer.status_code == 422
    assert 'id="id_reference-errors"' in answer.text and "at most 20 characters" in answer.text
    negative = client.post(ORDERS + "/add", data={**bad, "reference": "NEG"})
    assert negative.status_code == 422 and "total_positive" in negative.text  # the CHECK
    assert '<ul class="field-errors" id="id_total-errors"><li>The value breaks' in negative.text
    taken = {**bad, "reference": "R001", "total": "5"}
    answer = client.post(ORDERS + "/add", data=taken)
    assert answer.status_code == 422 and "reference must be unique" in answer.text
    good = {**taken, "reference": "NEW1", "_continue": ""}
    done = client.post(ORDERS + "/add", data=good, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("/change")
    changed = client.get(done.headers["location"]).text
    assert "was added" in changed and 'value="NEW1"' in changed
    another = {**good, "reference": "NEW2", "_addanother": ""}
    del another["_continue"]
    assert (
        client.post(ORDERS + "/add", data=another, follow_redirects=False).headers["location"]
        == ORDERS + "/add"
    )


def test_change_then_history(client: TestClient) -> None:
    log_in(client)
    page = client.get(ORDERS + "/3/change").text
    assert 'value="R002"' in page and "Created at" in page and "2030-01-03" in page
    form = {
        "csrf_token": csrf(page),
        "reference": "R002-b",
        "customer_id": "2",
        "total": "20",
        "status": "shipped",
        "note": "<b>fragile</b>",
    }
    done = client.post(ORDERS + "/3/change", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == ORDERS
    listing = client.get(ORDERS + "?q=R002-b").text
    assert "was changed" in listing and "R002-b" in listing
    history = client.get(ORDERS + "/3/history").text
    assert "Changed reference and note." in history and "boss" in history
    emptied = {**form, "note": ""}
    client.post(ORDERS + "/3/change", data=emptied)
    assert 'value="&lt;b&gt;fragile&lt;/b&gt;"' not in client.get(ORDERS + "/3/change").text
    assert client.get(ORDERS + "/999/change").status_code == 404
    assert client.get(ORDERS + "/abc/change").status_code == 404
    home = client.get("/admin").text
    assert "Changed</span> R002-b" in home  # recent actions


def test_delete_asks_first_and_lists_what_goes_with_it(client: TestClient) -> None:
    log_in(client)
    confirm = client.get(ORDERS + "/1/delete")
    assert confirm.status_code == 200 and "Are you sure?" in confirm.text
    assert "1 order lines (deleted too)" in confirm.text
    gone = client.post(
        ORDERS + "/1/delete", data={"csrf_token": csrf(confirm.text)}, follow_redirects=False
    )
    assert gone.status_code == 303 and gone.headers["location"] == ORDERS
    assert client.get(ORDERS + "/1/change").status_code == 404
    assert "Deleted." in client.get(ORDERS + "/1/history").text
    blocked = client.get("/admin/shop/customer/1/delete").text
    assert "still refer to it" in blocked
    answer = client.post("/admin/shop/customer/1/delete", data={"csrf_token": csrf(blocked)})
    assert "Nothing was deleted" in answer.text
    assert client.post(ORDERS + "/2/delete").status_code == 403  # no CSRF token


def test_bulk_actions(client: TestClient) -> None:
    log_in(client)
    page = client.get(ORDERS).text
    token = csrf(page)
    ran = client.post(
        ORDERS, data={"csrf_token": token, "action": "mark_shipped", "_selected": ["4", "5"]}
    )
    assert "2 orders shipped." in ran.text
    assert "Changed action: mark_shipped." in client.get(ORDERS + "/4/history").text
    ask = client.post(
        ORDERS, data={"csrf_token": token, "action": "delete_selected", "_selected": ["6", "7"]}
    )
    assert "Are you sure?" in ask.text and "R005" in ask.text and "R006" in ask.text
    done = client.post(
        ORDERS,
        data={
            "csrf_token": token,
            "action": "delete_selected",
            "_selected": ["6", "7"],
            "confirm": "yes",
        },
    )
    assert "Deleted 2 orders." in done.text
    assert "No orders found." in client.get(ORDERS + "?q=R005").text
    none = client.post(ORDERS, data={"csrf_token": token, "action": "mark_shipped"})
    assert "Select some rows" in none.text
    unknown = client.post(
        ORDERS, data={"csrf_token": token, "action": "drop_table", "_selected": ["8"]}
    )
    assert "Choose an action" in unknown.text


def test_csv_export(client: TestClient) -> None:
    log_in(client)
    answer = client.get(ORDERS + "/export.csv?status=paid")
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    lines = answer.text.splitlines()
    assert lines[0] == "Reference,Customer email,Total,Status,Created at"
    assert len(lines) == 1 + 8 and all(",paid," in line for line in lines[1:])


def test_permissions_hide_buttons_and_refuse_urls(client: TestClient) -> None:
    log_in(client, "viewer")
    home = client.get("/admin").text
    assert "Orders" in home and "Customers" not in home and "+ Add" not in home
    page = client.get(ORDERS).text
    assert "+ Add order" not in page and 'name="action"' not in page
    form = client.get(ORDERS + "/2/change").text
    assert "<fieldset disabled>" in form and ">Save<" not in form and ">Delete<" not in form
    assert client.get(ORDERS + "/add").status_code == 403
    assert client.get(ORDERS + "/2/delete").status_code == 403
    assert client.get("/admin/shop/customer").status_code == 403
    assert client.get("/admin/auth/user").status_code == 403
    token = csrf(page)
    changed = client.post(ORDERS + "/2/change", data={"csrf_token": token, "reference": "X"})
    assert changed.status_code == 403
    deleted = client.post(
        ORDERS,
        data={
            "csrf_token": token,
            "action": "delete_selected",
            "_selected": ["2"],
            "confirm": "yes",
        },
    )
    assert "Choose an action" in deleted.text
    assert client.get(ORDERS + "/2/change").status_code == 200  # still there


def test_clerk_may_change_not_add_or_delete(client: TestClient) -> None:
    log_in(client, "clerk")
    page = client.get(ORDERS).text
    assert "Mark as shipped" in page and "Delete selected" not in page
    form = client.get(ORDERS + "/2/change").text
    assert "Save and continue editing" in form and ">Delete<" not in form
    assert client.get(ORDERS + "/add").status_code == 403


def test_hostile_data_is_escaped(client: TestClient) -> None:
    log_in(client)
    page = client.get("/admin/shop/customer").text
    assert "<script>alert(1)</script>" not in page
    assert "Bob &lt;script&gt;alert(1)&lt;/script&gt;" in page
    search = client.get('/admin/shop/customer?q="><script>x</script>').text
    assert "<script>x</script>" not in search


def test_static_files_and_no_cdn(client: TestClient) -> None:
    css = client.get("/admin/static/admin.css")
    assert css.status_code == 200 and "prefers-color-scheme: dark" in css.text
    assert client.get("/admin/static/../_site.py").status_code == 404
    log_in(client)
    page = client.get(ORDERS).text
    assert "http://" not in page.replace("http://testserver", "") and "https://" not in page


def test_inline_rows_add_change_delete(client: TestClient) -> None:
    log_in(client)
    page = client.get(ORDERS + "/1/change").text
    assert 'name="adm_order_line-0-product" value="Widget"' in page
    assert 'name="adm_order_line-TOTAL" value="3"' in page  # one row and two blank ones
    form = {
        "csrf_token": csrf(page),
        "reference": "R000",
        "customer_id": "2",
        "total": "0",
        "status": "new",
        "adm_order_line-TOTAL": "3",
        "adm_order_line-0-KEY": "1",
        "adm_order_line-0-product": "Widget",
        "adm_order_line-0-quantity": "5",
        "adm_order_line-1-KEY": "",
        "adm_order_line-1-product": "Gadget",
        "adm_order_line-1-quantity": "x",
        "adm_order_line-2-KEY": "",
        "adm_order_line-2-product": "",
        "adm_order_line-2-quantity": "",
    }
    bad = client.post(ORDERS + "/1/change", data=form)
    assert bad.status_code == 422 and "valid integer" in bad.text
    assert 'value="Gadget"' in bad.text  # what was typed stays
    form["adm_order_line-1-quantity"] = "2"
    done = client.post(ORDERS + "/1/change", data=form, follow_redirects=False)
    assert done.status_code == 303
    page = client.get(ORDERS + "/1/change").text
    assert 'name="adm_order_line-0-quantity" value="5"' in page
    assert 'name="adm_order_line-1-product" value="Gadget"' in page
    assert "order lines" in client.get(ORDERS + "/1/history").text
    form.update(
        {
            "csrf_token": csrf(page),
            "adm_order_line-0-DELETE": "1",
            "adm_order_line-1-KEY": "2",
            "adm_order_line-1-quantity": "2",
        }
    )
    client.post(ORDERS + "/1/change", data=form)
    page = client.get(ORDERS + "/1/change").text
    assert 'value="Widget"' not in page and 'value="Gadget"' in page


def test_foreign_key_over_a_large_table_is_a_search_box(client: TestClient) -> None:
    from prow.admin import Admin

    log_in(client)
    order_admin = next(m for m in client.app.extension(Admin).model_admins if m.name == "order")
    type(order_admin).autocomplete_limit = 1
    try:
        page = client.get(ORDERS + "/add").text
    finally:
        type(order_admin).autocomplete_limit = 200
    assert '<select id="id_customer_id"' not in page
    assert 'data-autocomplete="/admin/shop/customer/autocomplete"' in page
    found = client.get("/admin/shop/customer/autocomplete?q=ada").json()
    assert found == {"results": [{"id": 1, "text": "Ada"}], "more": False}
    log_in(client, "viewer")
    assert client.get("/admin/shop/customer/autocomplete?q=a").status_code == 403
