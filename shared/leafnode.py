"""An agency site that keeps working while its link to the region is cut (docs/leaf-sites.md).

The site runs its own nats-server: a leaf node of the region with its own JetStream domain
(`site-<agency>`) and its own stream (`PEERLINE_SITE_<AGENCY>`) for what arrives at the site — the CAD's
`cad.<agency>.incident` documents and support requests made there (`site.<agency>.request`). The site
acknowledges them itself, so the CAD and the people there carry on through an outage. The region's CAD
inbox sources the site stream across the leaf link; when the link returns it resumes after the last
message it took, and intake turns each message into events once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nats.js import JetStreamContext

from shared.buspolicy import Identity, site
from shared.consumers.intake import site_domain, site_stream
from shared.natsserver import NatsServer
from shared.topology import ensure_stream


def remote_block(hub_urls: tuple[str, ...], link_seed: bytes, reconnect_s: int = 1) -> str:
    """The site's leaf connection to the region: any of the hub's leaf URLs, as `site-link-<agency>`."""
    urls = ", ".join(json.dumps(u) for u in hub_urls)
    seed = json.dumps(link_seed.decode().strip())
    return (
        "leafnodes {\n"
        f'  reconnect: "{reconnect_s}s"\n'
        f"  remotes = [\n    {{urls: [{urls}], nkey: {seed}}}\n  ]\n"
        "}\n"
    )


@dataclass
class SiteServer(NatsServer):
    """An agency site's nats-server: a leaf node of the region with the JetStream domain `site-<agency>`.

    `hub_urls` are the region's leaf listeners (`nats-leaf://host:7422`); `link_seed` is the seed of the
    `site-link-<agency>` identity the region issued. `linked=False` starts the site with no remote at all,
    as when its link is cut (the site still accepts and acknowledges everything)."""

    agency: str = ""
    hub_urls: tuple[str, ...] = ()
    link_seed: Path | None = None
    linked: bool = True

    def __post_init__(self) -> None:
        if not self.agency:
            raise ValueError("a site serves one agency")
        self.domain = site_domain(self.agency)
        self.server_name = self.server_name or self.domain

    def identities(self) -> tuple[Identity, ...]:
        return site(self.agency, with_harness=self.harness)

    def extra_config(self) -> str:
        if not self.linked or not self.hub_urls:
            return ""
        if self.link_seed is None:
            raise ValueError("a linked site needs the seed of its site-link identity")
        return remote_block(self.hub_urls, self.link_seed.read_bytes())

    def relink(self, linked: bool) -> None:
        """Restart the site with its link (`True`) or without it, as when the line is cut (`False`)."""
        self.stop()
        self.linked = linked
        self.start()


async def provision_site(js: JetStreamContext, agency: str) -> None:
    """On the site's own server, as `site-provisioner`: the site stream (idempotent)."""
    await ensure_stream(js, site_stream(agency))
