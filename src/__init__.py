"""The project package.

Importing it registers the OmegaConf resolvers the configs use (src/run/resolvers.py). Here, not in a submodule,
because every entry point runs as `python -m src.<name>` and every test imports from `src`, so the package is
imported before any config is composed or resolved.
"""

from src.run import resolvers  # noqa: F401
