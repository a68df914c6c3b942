"""``kaikyo serve``: run the haven (ASGI under uvicorn) on one data directory.

Plain HTTP is accepted only on a loopback address, where no one else can read the tokens;
anywhere else the haven needs ``--tls-cert/--tls-key``, or ``--allow-plain-http`` for a network
the operator vouches for (a TLS-terminating proxy in front, or a test namespace).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import signal
import socket
import ssl

import uvicorn

from kaikyo.cli import exitcodes
from kaikyo.cli.commands.haven import add_data_arg, arm_crash_point, settings_from
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json
from kaikyo.errors import ConfigError, UsageError
from kaikyo.server import Haven, create_app
from kaikyo.server.accesslog import FORMATS, open_access_log
from kaikyo.server.connections import guarded_h11
from kaikyo.units import parse_duration, parse_size


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the haven (multi-tenant repository service)",
        description="Serve the haven's data directory over HTTPS (or plain HTTP on a "
        "loopback address): tenants' clients store ciphertext objects there with their "
        "tokens; the haven checks names, quotas, scopes and delayed deletion, and never "
        "holds a key. At start it cleans what a crash left half done. Stops on SIGTERM or "
        "Ctrl-C. See docs/HAVEN.md.",
        epilog="""examples:
  kaikyo serve --data /srv/haven
  kaikyo serve --data /srv/haven --listen 0.0.0.0:8720 --tls-cert cert.pem --tls-key key.pem
  kaikyo serve --data /srv/haven --trash-grace 30d --max-object 512M \\
      --metrics-listen 127.0.0.1:9720""",
    )
    p.add_argument(
        "--listen",
        default="127.0.0.1:8720",
        metavar="HOST:PORT",
        help="where tenants connect (default 127.0.0.1:8720)",
    )
    p.add_argument(
        "--tls-cert", metavar="FILE", help="TLS certificate (chain), PEM; with --tls-key"
    )
    p.add_argument("--tls-key", metavar="FILE", help="the certificate's private key, PEM")
    p.add_argument(
        "--allow-plain-http",
        action="store_true",
        help="serve plain HTTP on a non-loopback address (trusted networks only)",
    )
    p.add_argument(
        "--trash-grace",
        default="7d",
        metavar="DURATION",
        help="how long deleted objects stay recoverable, a duration such as 7d, 12h or 1mo "
        "(default 7d)",
    )
    p.add_argument(
        "--max-object",
        default="256M",
        metavar="SIZE",
        help="largest object accepted, a size such as 256M or 1G (1024-based; default 256M)",
    )
    p.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="serve /metrics (Prometheus) here, for the operator's network only; "
        "it is never served on the tenants' --listen address (it names tenants)",
    )
    p.add_argument(
        "--access-log",
        metavar="FILE",
        help="write one line per request here (- is standard output); tokens are never "
        "logged (default: no access log)",
    )
    p.add_argument(
        "--access-log-format",
        choices=FORMATS,
        default="text",
        help='text (default): TIME REMOTE TENANT TOKEN_ID "METHOD PATH" STATUS BYTES_IN '
        "BYTES_OUT SECONDS; json: one object a line, the same fields",
    )
    p.add_argument(
        "--header-timeout",
        default="15s",
        metavar="DURATION",
        help="close a connection whose request headers are not complete by then, a duration "
        "(default 15s)",
    )
    p.add_argument(
        "--body-timeout",
        default="60s",
        metavar="DURATION",
        help="drop an upload whose body sends nothing for this long, a duration (default 60s)",
    )
    p.add_argument(
        "--idle-timeout",
        default="30s",
        metavar="DURATION",
        help="close a kept-alive connection idle this long, a duration (default 30s)",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=512,
        metavar="N",
        help="refuse connections beyond this many at once (default 512)",
    )
    p.add_argument(
        "--max-locks-per-token",
        type=int,
        default=64,
        metavar="N",
        help="locks one token may hold at once (default 64)",
    )
    p.add_argument(
        "--purge-interval",
        default="1h",
        metavar="DURATION",
        help="how often expired trash is purged, a duration such as 1h or 30min (default 1h)",
    )
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
            raise ConfigError(
                f"cannot use TLS certificate {cert} with key {key}: {exc.reason or exc}",
                "give a PEM certificate (chain) and its matching private key",
            ) from None
        raise ConfigError(
            f"cannot read TLS certificate or key: {exc.filename or cert}: {exc.strerror or exc}"
        ) from None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every small answer waited 40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _positive(value: int, flag: str) -> int:
    if value < 1:
        raise UsageError(f"{flag} must be at least 1")
    return value


def _announce(
    args: argparse.Namespace, ctx: CliContext, url: str, data: str, metrics_url: str | None
) -> None:
    if args.json:
        emit_json(ctx, {"listen": url, "data": data, "metrics": metrics_url})
    else:
        ctx.stderr.write(
            f"kaikyo haven on {url}, data in {data}"
            + (f", metrics on {metrics_url}" if metrics_url else "")
            + "\n"
        )


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    host, port = _split_listen(args.listen)
    tls = bool(args.tls_cert or args.tls_key)
    if tls and not (args.tls_cert and args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    if not tls and not _is_loopback(host) and not args.allow_plain_http:
        raise UsageError(
            f"refusing plain HTTP on {host}: tokens would cross the network in clear",
            "pass --tls-cert and --tls-key, or listen on 127.0.0.1",
        )
    if tls:
        _check_tls(args.tls_cert, args.tls_key)
    metrics = _split_listen(args.metrics_listen) if args.metrics_listen else None
    if metrics is not None and metrics == (host, port):
        raise UsageError("--metrics-listen must differ from --listen")
    settings = settings_from(
        args,
        ctx,
        trash_grace=parse_duration(args.trash_grace, "--trash-grace"),
        body_timeout=parse_duration(args.body_timeout, "--body-timeout"),
        max_locks_per_token=_positive(args.max_locks_per_token, "--max-locks-per-token"),
        max_body=_positive(parse_size(args.max_object, "--max-object"), "--max-object"),
    )
    header_timeout = parse_duration(args.header_timeout, "--header-timeout")
    idle = parse_duration(args.idle_timeout, "--idle-timeout")
    purge_interval = parse_duration(args.purge_interval, "--purge-interval")
    max_connections = _positive(args.max_connections, "--max-connections")
    with contextlib.ExitStack() as cleanup:  # whatever was opened is closed, in reverse
        access_log = None
        if args.access_log:
            access_log = open_access_log(args.access_log, args.access_log_format)
            cleanup.callback(access_log.close)
        sockets = [cleanup.enter_context(_bind(host, port))]
        if metrics is not None:
            sockets.append(cleanup.enter_context(_bind(*metrics)))
        arm_crash_point(ctx)
        haven = Haven(settings, ctx.clock, create=True)
        cleanup.callback(haven.close)
        haven.area.clean_uploads()
        haven.recover()
        haven.recount_usage()
        scheme = "https" if tls else "http"
        url = f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}"
        metrics_url = (
            f"{scheme}://{metrics[0]}:{sockets[1].getsockname()[1]}/metrics"
            if metrics is not None
            else None
        )
        _announce(args, ctx, url, str(settings.data_dir), metrics_url)
        app = create_app(
            haven,
            purge_interval=purge_interval,
            metrics_port=sockets[1].getsockname()[1] if metrics else None,
            access_log=access_log,
        )
        config = uvicorn.Config(
            app,
            ssl_certfile=args.tls_cert,
            ssl_keyfile=args.tls_key,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_keep_alive=max(1, int(idle)),
            server_header=False,
            http=guarded_h11(header_timeout, max_connections),
            limit_concurrency=max_connections,
        )
        # uvicorn shuts down gracefully on SIGTERM, then raises the signal again under the
        # handler it found: make that one a no-op, so the data directory is closed and the
        # exit is 0.
        previous = signal.signal(signal.SIGTERM, lambda *_: None)
        cleanup.callback(signal.signal, signal.SIGTERM, previous)
        uvicorn.Server(config).run(sockets=sockets)
    return exitcodes.OK
