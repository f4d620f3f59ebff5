"""The HTTP routes, one module per resource; ``service/app.py`` includes their routers.

Nothing is imported here, so ``service.routes.responses`` (what the eval uses to shape an
answer as POST /ask does) loads without the routes.
"""
