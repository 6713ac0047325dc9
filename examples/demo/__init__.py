from examples.demo.app import app

__all__ = ["app"]
