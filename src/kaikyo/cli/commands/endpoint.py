"""kaikyo endpoint: the TCP forwarder clients use while their service moves (serve, hold,
release, point, status)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, err_console, out_console
from kaikyo.errors import UsageError
from kaikyo.units import parse_duration


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "endpoint",
        help="forward a service's clients, holding them while it moves",
        description="A TCP forwarder in front of a service. While a cut-over stops the "
        "service at the primary and starts it at the haven, the endpoint holds new "
        "connections (accepted, waiting) instead of letting them be refused, then passes "
        "them to the service's new address. It is driven over a local control socket "
        "(mode 0600), by the cut-over or by hand.",
        epilog="""examples:
  kaikyo endpoint serve --listen 0.0.0.0:5432 --to 10.0.1.5:5432 \\
      --control /run/kaikyo/pg.sock &
  kaikyo endpoint hold --control /run/kaikyo/pg.sock
  kaikyo endpoint point 10.20.0.7:5432 --control /run/kaikyo/pg.sock
  kaikyo endpoint status --control /run/kaikyo/pg.sock --json""",
    )
    actions = p.add_subparsers(dest="endpoint_command", metavar="ACTION", required=True)
    s = actions.add_parser(
        "serve",
        help="run the forwarder until stopped",
        description="Listen on --listen and forward each connection to --to, until SIGTERM "
        "or Ctrl-C. With --json, one 'ready' line (the address it listens on, with the port "
        "chosen when --listen gives port 0) once it accepts connections.",
        epilog="""examples:
  kaikyo endpoint serve --listen 127.0.0.1:8080 --to 127.0.0.1:8081 --control ep.sock""",
    )
    s.add_argument("--listen", required=True, metavar="HOST:PORT",
                   help="where clients connect (port 0: any free port)")  # fmt: skip
    s.add_argument("--to", required=True, metavar="HOST:PORT",
                   help="the service's address now")  # fmt: skip
    s.add_argument(
        "--hold-timeout",
        default="60s",
        metavar="DURATION",
        help="a held connection is closed after this long (default 60s)",
    )
    s.add_argument(
        "--connect-timeout",
        default="10s",
        metavar="DURATION",
        help="time allowed to connect to the target (default 10s)",
    )
    s.add_argument("--hold", action="store_true", help="start holding (until released)")
    _control_arg(s)
    s.add_argument("--json", action="store_true", help="print the ready line as JSON")
    s.set_defaults(func=run_serve)
    for name, text in (
        ("hold", "hold new connections from now on"),
        ("release", "pass held and new connections to the target"),
        ("status", "print what the endpoint has done"),
    ):
        a = actions.add_parser(
            name,
            help=text,
            description=f"{text[0].upper()}{text[1:]}; prints the endpoint's stats.",
            epilog=f"examples:\n  kaikyo endpoint {name} --control ep.sock --json",
        )
        _control_arg(a)
        a.add_argument("--json", action="store_true", help="print the stats as JSON")
        a.set_defaults(func=run_control, command=name)
    pt = actions.add_parser(
        "point",
        help="send held and new connections to another address",
        description="Point the endpoint at ADDRESS (the service's new home); held "
        "connections go there at once unless --keep-holding.",
        epilog="""examples:
  kaikyo endpoint point 10.20.0.7:5432 --control ep.sock""",
    )
    pt.add_argument("address", metavar="HOST:PORT", help="the service's new address")
    pt.add_argument("--keep-holding", action="store_true",
                    help="re-point but keep holding until 'release'")  # fmt: skip
    _control_arg(pt)
    pt.add_argument("--json", action="store_true", help="print the stats as JSON")
    pt.set_defaults(func=run_control, command="point")


def _control_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--control",
        metavar="PATH",
        help="the endpoint's control socket (or env KAIKYO_ENDPOINT_CONTROL)",
    )


def _control_path(args: argparse.Namespace, ctx: CliContext) -> Path:
    path = args.control or ctx.env.get("KAIKYO_ENDPOINT_CONTROL")
    if not path:
        raise UsageError("endpoint: give --control PATH (or env KAIKYO_ENDPOINT_CONTROL)")
    return Path(path)


def run_serve(args: argparse.Namespace, ctx: CliContext) -> int:
    from kaikyo.endpoint import Forwarder, parse_address
    from kaikyo.endpoint.control import serve_control

    host, port = parse_address(args.listen, "--listen", any_port=True)
    target = parse_address(args.to, "--to")
    hold_s = parse_duration(args.hold_timeout, "--hold-timeout")
    connect_s = parse_duration(args.connect_timeout, "--connect-timeout")
    control = _control_path(args, ctx)
    if control.exists() and not control.is_socket():
        raise UsageError(f"--control {control}: exists and is not a socket; give another path")

    async def main() -> None:
        forwarder = Forwarder(target, hold_timeout_s=hold_s, connect_timeout_s=connect_s)
        if args.hold:
            forwarder.hold()
        try:
            server = await forwarder.serve(host, port)
        except OSError as exc:
            raise UsageError(f"--listen {args.listen}: {exc.strerror or exc}") from None
        ctl = await serve_control(forwarder, control)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        bound = server.sockets[0].getsockname()
        ready = {
            "message_type": "ready",
            "listen": f"{bound[0]}:{bound[1]}",
            "to": forwarder.stats.target,
            "control": str(control),
            "pid": os.getpid(),
        }
        if args.json:
            emit_json(ctx, ready)
        else:
            err_console(ctx).print(
                f"kaikyo endpoint: {ready['listen']} -> {ready['to']} (control {control})",
                markup=False,
            )
        ctx.stdout.flush()
        try:
            await stop.wait()
        finally:
            server.close()
            ctl.close()
            await forwarder.close()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            control.unlink(missing_ok=True)

    asyncio.run(main())
    return 0


def run_control(args: argparse.Namespace, ctx: CliContext) -> int:
    from kaikyo.endpoint import parse_address
    from kaikyo.endpoint.control import request

    path = _control_path(args, ctx)
    fields: dict[str, object] = {}
    if args.command == "point":
        parse_address(args.address, "point")  # refused here, before anything is sent
        fields = {"to": args.address, "release": not args.keep_holding}
    reply = request(path, args.command, fields)
    reply.pop("ok", None)
    if args.json:
        emit_json(ctx, reply)
    else:
        state = "holding" if reply["holding"] else "forwarding"
        out_console(ctx).print(
            f"{state} to {reply['target']}: {reply['connections']} connections, "
            f"{reply['held_now']} held now ({reply['held_total']} in all, longest "
            f"{reply['longest_hold_s']:g} s, {reply['hold_timeouts']} timed out), "
            f"{reply['refused_by_target']} refused by the target",
            markup=False,
        )
    return 0
