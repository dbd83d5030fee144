"""`peerline site`: run an agency site — a NATS leaf node of the region (docs/leaf-sites.md)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shared import busclient
from shared.consumers.intake import site_request_subject, site_stream_name
from shared.leafnode import SiteServer, provision_site

site = typer.Typer(
    help="An agency site: keeps taking CAD incidents and support requests while its link to the region "
    "is cut, and hands them to the region when it returns.",
    no_args_is_help=True,
)
console = Console()


async def _provision(server: SiteServer, agency: str) -> None:
    nc = await busclient.connect(server.url, "site-provisioner", server.seed("site-provisioner"))
    try:
        await provision_site(nc.jetstream(), agency)
    finally:
        await nc.close()


@site.command("up")
def site_up(
    agency: Annotated[str, typer.Option(help="the agency this site serves")],
    hub: Annotated[list[str], typer.Option(help="a leaf URL of the region, e.g. nats-leaf://region:7422")],
    link_seed: Annotated[Path, typer.Option(help="the seed of site-link-<agency>, issued by the region")],
    var_dir: Annotated[Path, typer.Option(help="the site's data and bus credentials")] = Path("var/site"),
    port: Annotated[int, typer.Option(help="where the site's CAD and door connect")] = 4222,
    monitor_port: Annotated[int, typer.Option()] = 8222,
) -> None:
    """Start the site's nats-server (JetStream domain `site-<agency>`) and its stream; Ctrl-C stops it."""
    if not link_seed.is_file():
        raise typer.BadParameter("no such file", param_hint="--link-seed")
    server = SiteServer(
        var_dir.resolve() / "nats",
        port=port,
        monitor_port=monitor_port,
        agency=agency,
        hub_urls=tuple(hub),
        link_seed=link_seed.resolve(),
        creds_dir=var_dir.resolve() / "bus",
    ).start()
    try:
        asyncio.run(_provision(server, agency))
        console.print(f"site {server.domain} on {server.url}: stream {site_stream_name(agency)}")
        console.print(f"  the CAD publishes cad.{agency}.incident as cad-{agency}")
        console.print(f"  requests taken here go to {site_request_subject(agency)} as site-door-{agency}")
        console.print(f"  seeds of these identities (0600): {server.seeds}")
        stopped = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stopped.update(now=True))
        try:
            while not stopped["now"]:
                if server.proc is None or server.proc.poll() is not None:
                    console.print("[red]the site's nats-server exited; see its log")
                    sys.exit(1)
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    finally:
        server.stop()
