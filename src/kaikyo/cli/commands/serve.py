"""``kaikyo serve``: run the haven (ASGI under uvicorn) on one data directory.

Plain HTTP is accepted only on a loopback address, where no one else can read the tokens;
anywhere else the haven needs ``--tls-cert/--tls-key``, or ``--allow-plain-http`` for a network
the operator vouches for (a TLS-terminating proxy in front, or a test namespace).
"""

from __future__ import annotations

import argparse
import ipaddress
import ssl

import uvicorn

from kaikyo.cli import exitcodes
from kaikyo.cli.commands.haven import add_data_arg, parse_duration, parse_size, settings_from
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json
from kaikyo.errors import ConfigError, UsageError
from kaikyo.server import Haven, create_app


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("serve", help="run the haven (multi-tenant repository service)")
    p.add_argument("--listen", default="127.0.0.1:8720", metavar="HOST:PORT")
    p.add_argument("--tls-cert", metavar="FILE")
    p.add_argument("--tls-key", metavar="FILE")
    p.add_argument("--allow-plain-http", action="store_true",
                   help="serve plain HTTP on a non-loopback address (trusted networks only)")
    p.add_argument("--trash-grace", default="7d", metavar="DURATION",
                   help="how long deleted objects stay recoverable (default 7d)")
    p.add_argument("--max-object", default="256Mi", metavar="SIZE",
                   help="largest object accepted (default 256Mi)")
    add_data_arg(p)
    p.set_defaults(func=run)


def _split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UsageError(f"invalid --listen {listen!r}", "write HOST:PORT, e.g. 127.0.0.1:8720")
    return host.strip("[]"), int(port)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_tls(cert: str, key: str) -> None:
    """Load the pair once before starting, so a wrong path or a key that does not match the
    certificate is one clear line (exit 23) rather than a traceback from inside uvicorn."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except OSError as exc:
        if isinstance(exc, ssl.SSLError):
            raise ConfigError(f"cannot use TLS certificate {cert} with key {key}: "
                              f"{exc.reason or exc}",
                              "give a PEM certificate (chain) and its matching private key"
                              ) from None
        raise ConfigError(f"cannot read TLS certificate or key: {exc.filename or cert}: "
                          f"{exc.strerror or exc}") from None


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    host, port = _split_listen(args.listen)
    tls = bool(args.tls_cert or args.tls_key)
    if tls and not (args.tls_cert and args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    if not tls and not _is_loopback(host) and not args.allow_plain_http:
        raise UsageError(f"refusing plain HTTP on {host}: tokens would cross the network in clear",
                         "pass --tls-cert and --tls-key, or listen on 127.0.0.1")
    if tls:
        _check_tls(args.tls_cert, args.tls_key)
    max_object = parse_size(args.max_object)
    settings = settings_from(args, ctx, trash_grace=parse_duration(args.trash_grace),
                             **({"max_body": max_object} if max_object else {}))
    haven = Haven(settings, ctx.clock, create=True)
    haven.area.clean_uploads()
    haven.recount_usage()
    scheme = "https" if tls else "http"
    url = f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}"
    if args.json:
        emit_json(ctx, {"listen": url, "data": str(settings.data_dir)})
    else:
        ctx.stderr.write(f"kaikyo haven on {url}, data in {settings.data_dir}\n")
    config = uvicorn.Config(
        create_app(haven), host=host, port=port, ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key, log_level="warning", access_log=False, lifespan="on",
        timeout_keep_alive=120, server_header=False,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        haven.close()
    return exitcodes.OK
