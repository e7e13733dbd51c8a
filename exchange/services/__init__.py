"""What the gateway and the single-window node share as web services, apart from the library: the guarded HTTP
server configuration (``_server``), TLS peer identity for ASGI (``_asgi_tls``), the dashboard's page toolkit and
its static assets (``_webui``, ``webui/``) and the store's column types (``_sqltypes``).

The library (``exchange/_*.py``) imports no web framework and no database; these modules may. Both services
import from here, neither from the other's internals (``tests/exchange/test_layering.py`` keeps it so).
"""
