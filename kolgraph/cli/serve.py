"""``kolgraph serve`` and ``kolgraph api-key``: the HTTP service.

The only command module that imports :mod:`kolgraph.api` (inside the handlers, so the rest
of the command line neither needs the ``api`` extra nor pays for its import).
"""

from __future__ import annotations

import sys

from kolgraph.cli._flags import add_command
from kolgraph.cli._output import emit


def register_serve(sub) -> None:
    sp = add_command(sub, "serve", cmd_serve, "serve stores over HTTP (the FastAPI service)",
                     "Serve stores over HTTP with uvicorn: /v1/reach, /v1/overlap, "
                     "/v1/creators/..., /healthz, /readyz, /metrics. API keys, limits and more "
                     "stores come from --config (TOML or JSON); see docs/service.md.",
                     json_flag=False)
    sp.add_argument("stores", nargs="*", metavar="STORE", help="store directories (PATH or NAME=PATH)")
    sp.add_argument("--config", "-c", help="service config file (TOML or JSON): keys, limits, stores")
    sp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sp.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sp.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    sp.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    sp.add_argument("--verify", action="store_true", help="check every store file's sha256 "
                    "against its manifest before serving (reads every byte once)")


def cmd_serve(args) -> int:
    from kolgraph.api.serve import serve

    serve(args.stores, config=args.config, host=args.host, port=args.port, workers=args.workers,
          log_level=args.log_level, verify=args.verify)
    return 0


def register_api_key(sub) -> None:
    sp = add_command(sub, "api-key", cmd_api_key, "create an API key and its hashed config entry")
    sp.add_argument("--tenant", required=True, help="tenant the key belongs to")
    sp.add_argument("--stores", nargs="+", required=True, metavar="NAME",
                    help="store names the key may read ('*' for all)")
    sp.add_argument("--scope", action="append", choices=("followers",),
                    help="extra scope: 'followers' allows raw follower id lists")
    sp.add_argument("--hash", default="scrypt", choices=("scrypt", "sha256"),
                    help="how the key is stored (default scrypt)")
    sp.add_argument("--min-count", type=int, help="suppress groups smaller than this for this key")


def cmd_api_key(args) -> int:
    from kolgraph.api.serve import api_key_entry, toml_entry

    key, entry = api_key_entry(args.tenant, args.stores, args.scope or [], args.hash,
                               args.min_count)
    payload = {"key": key, "entry": entry, "toml": toml_entry(entry)}

    def human(p):
        sys.stdout.write(f"# API key (shown once; give it to the client):\n# {p['key']}\n"
                         f"# add to the service config:\n{p['toml']}\n")
    emit(args, payload, human)
    return 0
