"""``python -m examples.demo``: migrate the demo's database, then serve it on http://127.0.0.1:8000.

``PORT`` chooses another port, ``PROW_DATABASE_URL`` another database than ./demo.sqlite3.
"""

import os

import uvicorn
from sqlalchemy import make_url

from examples.demo.app import app, prepare
from prow.db import database

if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    url = database(app).url
    for migration in prepare(url):
        print(f"Applied migration {migration.revision}  {migration.message}")
    print(f"Database: {make_url(url).render_as_string(hide_password=True)}")
    print(f"prow demo on http://127.0.0.1:{port}  (API docs: http://127.0.0.1:{port}/docs)")
    uvicorn.run(app, host="127.0.0.1", port=port)
