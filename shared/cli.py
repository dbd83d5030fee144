"""`peerline`: run the embedded stack, provision NATS, mint dev tokens, rebuild projections."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.table import Table

from shared import busclient, buspolicy, mailcatcher
from shared.auth import ROLES, Role, generate_dev_keys, mint
from shared.buscreds import authorization_from_seeds, seed_path
from shared.demo_people import seed_people, wait_ready
from shared.files import private_dir
from shared.natsserver import NatsServer
from shared.runtime import HTTP_PORTS, METRICS_PORTS, SERVICES, Child, Supervisor, service_env
from shared.seed import demo_codes
from shared.sitecli import site as site_commands
from shared.topology import provision

app = typer.Typer(
    help="Peerline: confidential peer support for first-responder agencies.", no_args_is_help=True
)
console = Console()
VarDir = Annotated[Path, typer.Option(envvar="PEERLINE_VAR_DIR", help="where data, keys and logs live")]
NatsUrl = Annotated[str, typer.Option(envvar="PEERLINE_NATS_URL")]


SeedFile = Annotated[
    Path | None, typer.Option(envvar="PEERLINE_NATS_SEED_FILE", help="this identity's NKey seed file")
]
CaFile = Annotated[Path | None, typer.Option(envvar="PEERLINE_NATS_CA_FILE", help="CA bundle (tls://)")]


async def _provision(
    url: str, seed: Path | None, ca: Path | None, replicas: int, sites: tuple[str, ...] = ()
) -> None:
    nc = await busclient.connect(url, "provisioner", seed, ca, connect_timeout=5)
    try:
        await provision(nc.jetstream(), replicas, sites)
    finally:
        await nc.close()


def _seed_demo(url: str, creds: Path, mark: Path) -> None:
    """The demo region: its peers and a year of activity, each event appended under the identity of the
    service that decides it (`python -m demo seed`; the demo imports services, so it runs apart). `mark`
    notes a finished history, so a later start does not play the year again to find it in the log."""
    args = ["seed", "--nats-url", url, "--creds", str(creds), "--mark", str(mark)]
    code = subprocess.call([sys.executable, "-m", "demo", *args])
    if code != 0:
        console.print(f"[yellow]seeding the demo region failed (exit {code}); starting without it")


@app.command()
def bootstrap(
    nats_url: NatsUrl = "nats://127.0.0.1:4222",
    seed_file: SeedFile = None,
    ca_file: CaFile = None,
    replicas: Annotated[int, typer.Option(envvar="PEERLINE_STREAM_REPLICAS")] = 1,
    site: Annotated[list[str] | None, typer.Option(help="an agency site the CAD inbox sources")] = None,
) -> None:
    """Create every stream and durable consumer, as the `provisioner` bus identity (idempotent)."""
    asyncio.run(_provision(nats_url, seed_file, ca_file, replicas, tuple(site or ())))
    console.print(f"streams and consumers provisioned on {nats_url}")


@app.command()
def up(
    var_dir: VarDir = Path("var"),
    nats_port: Annotated[int, typer.Option()] = 4222,
    http_port: Annotated[int, typer.Option(envvar="PEERLINE_HTTP_PORT")] = 8081,
) -> None:
    """Start everything on this machine: nats-server, every service, the demo region. Ctrl-C stops it all."""
    var_dir = var_dir.resolve()
    private_dir(var_dir).chmod(0o700)  # this machine's data, keys and logs: its owner's alone
    private_dir(var_dir / "logs")
    private_key, public_key = generate_dev_keys(var_dir / "keys")
    codes = demo_codes(var_dir / "codes.json")
    server = NatsServer(
        var_dir / "nats",
        port=nats_port,
        monitor_port=8222,
        log_file=var_dir / "logs" / "nats.log",
        creds_dir=var_dir / "bus",
    )
    server.start()
    mail = mailcatcher.start(var_dir / "mail")
    supervisor = Supervisor()
    try:
        asyncio.run(_provision(server.url, server.seed("provisioner"), None, 1))
        _seed_demo(server.url, server.seeds, var_dir / "demo-seeded.json")
        for name in SERVICES:
            env = service_env(
                name, nats_url=server.url, var_dir=var_dir, public_key=public_key, seeds=server.seeds
            )
            env.setdefault("PEERLINE_CODES_FILE", str(codes))
            if name == "intake":
                env["PEERLINE_HTTP_PORT"] = str(http_port)
            if name == "notify":  # texts to the demo's fictional numbers are logged, never sent; e-mail
                env.setdefault("PEERLINE_SMS_ADAPTER", "log")  # goes to the local catcher (var/mail)
                env.setdefault("PEERLINE_SMTP_HOST", "127.0.0.1")
                env.setdefault("PEERLINE_SMTP_PORT", str(mailcatcher.PORT))
            if name == "console":
                env["PEERLINE_INTAKE_URL"] = f"http://127.0.0.1:{http_port}"
            supervisor.children.append(Child(name, env, var_dir / "logs" / f"{name}.log"))
        supervisor.start()
        urls = {name: f"http://127.0.0.1:{HTTP_PORTS[name]}" for name in ("notify", "matching")}
        for name in urls:
            # the ops port: connected and serving (on a first start, after reading the demo's year)
            wait_ready(f"http://127.0.0.1:{METRICS_PORTS[name]}", within=300)
        people = seed_people(private_key.read_bytes(), urls["notify"], urls["matching"])
        _print_endpoints(server, http_port, var_dir)
        if people:
            console.print(
                f"demo peers' contact points (.invalid e-mail, 555-01xx texts) and profiles: {people}"
            )
        console.print(
            f"e-mail to people (offers to peers, pages to the clinician on call) lands in {var_dir / 'mail'}"
            f" (a local mail catcher on 127.0.0.1:{mailcatcher.PORT}); texts are logged in notify's log"
        )
        signal_stop = _stop_on_signals()
        while not signal_stop():
            for line in supervisor.watch_once():
                console.print(f"[yellow]restarted {line}")
            time.sleep(0.5)
    finally:
        console.print("stopping…")
        supervisor.stop()
        mail.stop()
        server.stop()
        console.print("stopped.")


def _stop_on_signals() -> Callable[[], bool]:
    stopped = {"now": False}

    def handler(_sig: int, _frame: object) -> None:
        stopped["now"] = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return lambda: stopped["now"]


def _print_endpoints(server: NatsServer, http_port: int, var_dir: Path) -> None:
    table = Table(title="Peerline is up", show_header=True)
    table.add_column("what")
    table.add_column("where")
    table.add_row("intake API (OpenAPI at /docs)", f"http://127.0.0.1:{http_port}")
    table.add_row(
        "NATS (JetStream, domain 'region')", f"{server.url}  monitor http://127.0.0.1:{server.monitor_port}"
    )
    table.add_row("console: the web app for people", f"http://localhost:{HTTP_PORTS['console']}")
    for name in SERVICES:
        if name not in ("intake", "console"):
            table.add_row(f"{name} API (OpenAPI at /docs)", f"http://127.0.0.1:{HTTP_PORTS[name]}")
    for name in SERVICES:
        table.add_row(f"{name} health + metrics", f"http://127.0.0.1:{METRICS_PORTS[name]}/healthz  /metrics")
    table.add_row("data, keys, logs", str(var_dir))
    table.add_row("bus credentials (one NKey seed per identity, 0600)", str(server.seeds))
    console.print(table)
    web = f"http://localhost:{HTTP_PORTS['console']}"
    console.print(f"open {web} (a phone-sized window is fine) and sign in at {web}/signin as:")
    console.print("  a member: m-demo-riverton-fire (asks for a peer; also sees a responder's debriefs)")
    console.print("  a peer: p-riverton-fire-01 … -10 (or riverton-police, county-ems); the offered one")
    console.print(f"    opens {web}/peer/offers/<case_id>, the link its notification carries")
    console.print("  a coordinator: u-coord-riverton-fire (the queue, assignment, the rosters)")
    console.print("  a clinician: u-clin-riverton-fire (pages, acknowledgement, an audited reveal)")
    console.print("  a leader: l-demo-riverton-fire (trends, small counts hidden)")
    console.print("  a regional admin: ra-demo-1 and ra-demo-2 (policies: one proposes, the other approves)")
    console.print("try:  TOKEN=$(.venv/bin/peerline token --role member --agency riverton-fire)")
    console.print(
        f'      curl -s -XPOST 127.0.0.1:{http_port}/v1/requests -H "Authorization: Bearer $TOKEN" '
        '-H \'content-type: application/json\' -d \'{"agency":"riverton-fire","activation":"self"}\''
    )
    console.print("Ctrl-C stops everything.")


@app.command()
def token(
    role: Annotated[str, typer.Option(help=" | ".join(ROLES))],
    agency: Annotated[str, typer.Option()],
    sub: Annotated[str | None, typer.Option(help="subject (user id); random if omitted")] = None,
    var_dir: VarDir = Path("var"),
) -> None:
    """Mint a development bearer token signed with the key `peerline up` made."""
    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    private, _ = generate_dev_keys(var_dir / "keys")
    typer.echo(mint(private.read_bytes(), role=cast(Role, role), agency=agency, sub=sub))


app.add_typer(site_commands, name="site")

bus = typer.Typer(help="The bus's identities: NKey seeds and the server's authorization block.")
app.add_typer(bus, name="bus")


@bus.command("credentials")
def bus_credentials(
    directory: Annotated[Path, typer.Option("--dir", help="where the seeds (0600) and auth.conf go")],
    agency: Annotated[list[str] | None, typer.Option(help="an agency with a CAD integration")] = None,
    rotate: Annotated[list[str] | None, typer.Option(help="give this identity a new seed")] = None,
    log_admin: Annotated[bool, typer.Option(help="include the break-glass log-admin identity")] = False,
    site: Annotated[list[str] | None, typer.Option(help="an agency site that links as a leaf node")] = None,
) -> None:
    """Make any missing seed, rotate those named, and write DIR/auth.conf (public keys only) for
    nats-server to include. Reload the server afterwards (`nats-server --signal reload`)."""
    identities = list(buspolicy.region(agency or (), sites=site or ()))
    if log_admin:
        identities.append(buspolicy.log_admin())
    names = {i.name for i in identities}
    for name in rotate or ():
        if name not in names:
            raise typer.BadParameter(f"no identity {name!r}; one of {', '.join(sorted(names))}")
        seed_path(directory, name).unlink(missing_ok=True)
    text = authorization_from_seeds(identities, directory)
    (directory / "auth.conf").write_text(text)
    console.print(f"{len(identities)} identities; seeds and auth.conf in {directory}")


audit = typer.Typer(help="The audit trail of escalations and disclosures.", no_args_is_help=True)
app.add_typer(audit, name="audit")


@audit.command("verify")
def audit_verify(nats_url: NatsUrl = "nats://127.0.0.1:4222", var_dir: VarDir = Path("var")) -> None:
    """Recompute the audit trail from the log and check every stored record (exit 1: altered or missing)."""
    env = {
        **os.environ,
        "PEERLINE_NATS_URL": nats_url,
        "PEERLINE_VAR_DIR": str(var_dir),
        **_as_replay(var_dir),
    }
    code = subprocess.call([sys.executable, "-m", "services.escalation", "audit", "verify"], env=env)
    raise typer.Exit(code)


def _as_replay(var_dir: Path) -> dict[str, str]:
    """Rebuilds and audit checks read the log as the read-only `replay` identity (embedded: var/bus)."""
    env = {"PEERLINE_NATS_USER": "replay"}
    seed = seed_path(var_dir / "bus", "replay")
    if "PEERLINE_NATS_SEED_FILE" not in os.environ and seed.exists():
        env["PEERLINE_NATS_SEED_FILE"] = str(seed)
    return env


@app.command()
def replay(
    service: Annotated[str, typer.Argument(help=" | ".join(SERVICES))], var_dir: VarDir = Path("var")
) -> None:
    """Rebuild a service's projections from the log (stop that service first)."""
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    env = {**os.environ, **_as_replay(var_dir)}
    code = subprocess.call([sys.executable, "-m", f"services.{service}", "replay"], env=env)
    raise typer.Exit(code)
