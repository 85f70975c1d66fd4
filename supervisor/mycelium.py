"""The mycelium daemon's lifecycle: find a running one, or run our own for as long as we need it.

```python
from hero_assistance.supervisor.mycelium import ensure, MyceliumOptions

async with ensure(MyceliumOptions(peers=["tcp://188.40.132.242:9651"])) as node:
    print(node.address)      # this host's overlay address, in 400::/7
```

- :func:`detect` — a running daemon (REST API, JSON-RPC API or Hero socket) as :class:`NodeInfo`, or ``None``.
- :func:`spawn_own` — our own daemon beside any system one (own key, ports and TUN name), Linux only.
- :func:`ensure` — ``detect()``, else ``spawn_own()`` restarted with backoff if it crashes.

Facts about the daemon these rely on: ``docs/mycelium-daemon.md``; operator view: ``runbook/mycelium.md``.
"""

from ._mycelium_address import OVERLAY_NETWORK as OVERLAY_NETWORK
from ._mycelium_address import derive_address as derive_address
from ._mycelium_address import pubkey_from_secret as pubkey_from_secret
from ._mycelium_address import subnet_of as subnet_of
from ._mycelium_detect import DEFAULT_API_ADDR as DEFAULT_API_ADDR
from ._mycelium_detect import DEFAULT_JSONRPC_ADDR as DEFAULT_JSONRPC_ADDR
from ._mycelium_detect import NodeInfo as NodeInfo
from ._mycelium_detect import default_hero_socket as default_hero_socket
from ._mycelium_detect import detect as detect
from ._mycelium_ensure import ensure as ensure
from ._mycelium_errors import MyceliumError as MyceliumError
from ._mycelium_errors import MyceliumExited as MyceliumExited
from ._mycelium_errors import MyceliumStartError as MyceliumStartError
from ._mycelium_errors import UnsupportedPlatform as UnsupportedPlatform
from ._mycelium_options import MyceliumOptions as MyceliumOptions
from ._mycelium_options import default_data_dir as default_data_dir
from ._mycelium_spawn import spawn_own as spawn_own

__all__ = [
    "DEFAULT_API_ADDR",
    "DEFAULT_JSONRPC_ADDR",
    "OVERLAY_NETWORK",
    "MyceliumError",
    "MyceliumExited",
    "MyceliumOptions",
    "MyceliumStartError",
    "NodeInfo",
    "UnsupportedPlatform",
    "default_data_dir",
    "default_hero_socket",
    "derive_address",
    "detect",
    "ensure",
    "pubkey_from_secret",
    "spawn_own",
    "subnet_of",
]
