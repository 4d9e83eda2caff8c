"""Api: the course API behind API Gateway; the routes live in coursegen.api (so the local server
and the OpenAPI document use the same resolver)."""

from coursegen.api import lambda_handler

__all__ = ["lambda_handler"]
