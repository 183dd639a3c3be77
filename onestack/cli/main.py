"""The ``onestack`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

from onestack import __version__
from onestack.kernel.config import ConfigError, load

# Imports are part of start-up time: the banner reports time since the process began.
PROCESS_STARTED = time.monotonic()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onestack",
                                     description="An OpenStack-compatible cloud.")
    parser.add_argument("--version", action="version", version=f"onestack {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start every service in this process")
    up.add_argument("--config", help="TOML configuration file")
    up.add_argument("--state-dir", type=Path, help="where data, keys and openrc files live "
                    "(default: $XDG_STATE_HOME/onestack)")
    up.add_argument("--reset", action="store_true", help="wipe the state directory first")
    up.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    up.add_argument("--log-level", help="DEBUG, INFO, WARNING (default INFO)")
    up.add_argument("--fake-hosts", type=int, metavar="N",
                    help="run N compute hosts on the fake hypervisor driver")
    openrc = commands.add_parser("openrc", help="print the admin-openrc of a state dir")
    openrc.add_argument("--config")
    openrc.add_argument("--state-dir", type=Path)
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


async def _up(args: argparse.Namespace) -> int:
    from onestack.cloud import Cloud, prepare_state_dir, write_client_files

    overrides = {"state_dir": args.state_dir, "log_level": args.log_level}
    config = load(args.config, **overrides)
    if args.host:
        config.api.host = args.host
    if args.fake_hosts is not None:
        if args.fake_hosts < 1:
            print("onestack: --fake-hosts needs at least 1 host", file=sys.stderr)
            return 2
        config.compute.virt_driver = "fake"
        config.compute.fake_hosts = args.fake_hosts
    _configure_logging(config.log_level)
    prepare_state_dir(config.state_dir, args.reset)
    cloud = Cloud(config)
    await cloud.build()
    openrc, clouds = write_client_files(config, cloud.password)
    ready = asyncio.Event()
    serving = asyncio.create_task(cloud.serve(ready))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait([serving, waiter], return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        waiter.cancel()
        await cloud.close()
        serving.result()
        return 1
    elapsed = time.monotonic() - PROCESS_STARTED
    lines = [f"onestack {__version__} is up in {elapsed:.2f}s (state: {config.state_dir})"]
    for name in [*cloud.apps, *cloud.extra_apps]:
        lines.append(f"  {name:<19} {config.public_url(name)}")
    lines += [f"  admin-openrc: {openrc}", f"  clouds.yaml:  {clouds}",
              f"Try: source {openrc} && openstack token issue"]
    print("\n".join(lines), flush=True)
    try:
        await serving
    finally:
        await cloud.close()
    return 0


def _run(coroutine: Any) -> int:
    """Run on uvloop when it is installed (it is with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main(argv: list[str] | None = None) -> int:
    from onestack.cloud import StateDirError

    args = _parser().parse_args(argv)
    try:
        if args.command == "up":
            return _run(_up(args))
        if args.command == "openrc":
            config = load(args.config, state_dir=args.state_dir)
            print((config.state_dir / "admin-openrc").read_text(), end="")
            return 0
    except (ConfigError, StateDirError, OSError) as exc:
        print(f"onestack: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # uvicorn re-raises the stop signal after its graceful shutdown: a stop the
        # user asked for, completed cleanly.
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
