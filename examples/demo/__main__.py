"""``python -m examples.demo``: serve the demo on http://127.0.0.1:8000 (uvicorn)."""

import os

import uvicorn

if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    print(f"prow demo on http://127.0.0.1:{port}  (API docs: http://127.0.0.1:{port}/docs)")
    uvicorn.run("examples.demo:app", host="127.0.0.1", port=port)
