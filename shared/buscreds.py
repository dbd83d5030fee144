"""Bus credentials: an NKey per identity, and the nats-server `authorization` block that admits them.

Each identity's seed (its secret) is a file of its own, mode 0600, in a directory of mode 0700; the
server's configuration holds only public keys, so it can sit in a ConfigMap or a log without harm.
Rotating a credential = a new seed, the configuration rendered again, the server reloaded
(`nats-server --signal reload`); revoking = dropping its public key and reloading.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import nkeys

from shared.buspolicy import Identity


def new_seed() -> bytes:
    return bytes(nkeys.encode_seed(secrets.token_bytes(32), nkeys.PREFIX_BYTE_USER))


def public_key(seed: bytes) -> str:
    return bytes(nkeys.from_seed(bytearray(seed)).public_key).decode()


def seed_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.nk"


def ensure_seeds(directory: Path, names: Iterable[str]) -> dict[str, Path]:
    """A seed file per name (made once, 0600, never overwritten); returns name → path."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    out = {}
    for name in names:
        path = seed_path(directory, name)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(new_seed())
        out[name] = path
    return out


def _list(items: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def user_block(identity: Identity, key: str) -> str:
    publish = f"allow: {_list(identity.publish)}" if identity.publish else 'deny: [">"]'
    if identity.deny_publish and identity.publish:
        publish += f", deny: {_list(identity.deny_publish)}"
    perms = f"publish: {{{publish}}}, subscribe: {{allow: {_list(identity.subscribe)}}}"
    if identity.responses:
        perms += f", allow_responses: {{max: {identity.responses}}}"
    # Without it, any user may also link a leaf node (on the region's public leaf port) and a site's
    # link could connect as a client: each identity gets the one kind of connection it is for.
    kind = _list(["LEAFNODE" if identity.leaf else "STANDARD"])
    comment = f"    # {identity.name}: {identity.description}\n"
    return (
        comment
        + f"    {{nkey: {json.dumps(key)}, allowed_connection_types: {kind}, permissions: {{{perms}}}}}"
    )


def authorization(identities: Iterable[Identity], keys: dict[str, str]) -> str:
    """The `authorization { users = [...] }` block for these identities (public keys by name)."""
    users = ",\n".join(user_block(i, keys[i.name]) for i in identities)
    return "authorization {\n  users = [\n" + users + "\n  ]\n}\n"


def authorization_from_seeds(identities: Iterable[Identity], directory: Path) -> str:
    found = tuple(identities)
    paths = ensure_seeds(directory, (i.name for i in found))
    return authorization(found, {name: public_key(p.read_bytes().strip()) for name, p in paths.items()})
