"""The user and group admins: flags, groups, permissions, the password form; no hash shown."""

from __future__ import annotations

from admin._shop import PASSWORD, csrf, log_in
from prow.testing import TestClient

USERS = "/admin/auth/user"
GROUPS = "/admin/auth/group"


def test_group_with_permissions_then_a_user_in_it(client: TestClient) -> None:
    log_in(client)
    page = client.get(GROUPS + "/add").text
    assert '<select id="id_permissions" name="permissions" multiple' in page
    option = page.split('<select id="id_permissions"')[1]
    assert ">adm_customer.view<" in option  # granted in the seed
    perm_id = option.split(">adm_customer.view<")[0].rsplit('value="', 1)[1].split('"')[0]
    form = {"csrf_token": csrf(page), "name": "support", "permissions": [perm_id]}
    done = client.post(GROUPS + "/add", data=form)
    assert "was added" in done.text
    edit = client.get(GROUPS + "/1/change").text
    assert f'<option value="{perm_id}" selected>' in edit

    new = client.get(USERS + "/add").text
    assert (
        "password" not in new.lower().split("<form")[1].split("</form>")[0].replace("csrf", "")
        or 'name="password"' not in new
    )
    form = {
        "csrf_token": csrf(new),
        "username": "Sam",
        "email": "Sam@Example.com",
        "is_active": "true",
        "is_staff": "true",
        "groups": ["1"],
    }
    made = client.post(USERS + "/add", data=form, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"].endswith("/password")
    password_page = client.get(made.headers["location"])
    assert "Now give the new user a password." in password_page.text
    token = csrf(password_page.text)
    weak = client.post(
        made.headers["location"],
        data={"csrf_token": token, "password1": "12345678", "password2": "12345678"},
    )
    assert weak.status_code == 422 and "only digits" in weak.text
    differ = client.post(
        made.headers["location"],
        data={"csrf_token": token, "password1": PASSWORD, "password2": "x"},
    )
    assert differ.status_code == 422 and "differ" in differ.text
    set_it = client.post(
        made.headers["location"],
        data={"csrf_token": token, "password1": PASSWORD, "password2": PASSWORD},
    )
    assert "The password was changed." in set_it.text
    assert "$argon2" not in set_it.text
    sam_id = made.headers["location"].split("/")[-2]
    assert "Changed password." in client.get(f"{USERS}/{sam_id}/history").text

    client.post("/admin/logout", data={"csrf_token": csrf(set_it.text)})
    log_in(client, "sam")  # the group's permission lets Sam see customers
    home = client.get("/admin").text
    assert "Customers" in home and "Orders" not in home
    assert client.get("/admin/shop/customer").status_code == 200
    assert client.get("/admin/shop/order").status_code == 403


def test_user_form_refuses_look_alike_names_and_shows_no_hash(client: TestClient) -> None:
    log_in(client)
    page = client.get(USERS + "/1/change").text
    assert "$argon2" not in page and "Change the password" in page
    assert 'name="username"' in page and 'name="is_superuser"' in page
    form = {
        "csrf_token": csrf(page),
        "username": "b\u200boss",
        "email": "",
        "is_staff": "true",
        "is_active": "true",
        "is_superuser": "true",
    }
    refused = client.post(USERS + "/1/change", data=form)
    assert refused.status_code == 422 and 'id="id_username-errors"' in refused.text
    taken = client.post(USERS + "/1/change", data={**form, "username": "CLERK"})
    assert taken.status_code == 422 and "must be unique" in taken.text
    listing = client.get(USERS + "?is_staff=1").text
    assert "clerk" in listing and "plain" not in listing
