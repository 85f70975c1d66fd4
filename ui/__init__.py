"""hero_assistance.ui: the Quart-Trio front end — the browser app, the ``/rpc`` proxy, ``/ws``, the admin page.

``serve_ui(config)`` runs the ui (``hero-assistance ui``); ``serve_admin`` the operator's dashboard
(``hero-assistance admin``). Everything else is private.
"""

from ._config import ConfigError as ConfigError
from ._config import UiConfig as UiConfig
from ._config import load_config as load_config
from ._serve import UiServer as UiServer
from ._serve import UiStartupError as UiStartupError
from ._serve import serve_ui as serve_ui

__all__ = ["ConfigError", "UiConfig", "UiServer", "UiStartupError", "load_config", "serve_ui"]
