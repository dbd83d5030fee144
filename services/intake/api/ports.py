"""What intake's routes need, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from services.intake.commands.dispatch import Dispatch
from services.intake.domain.policy import Policies
from services.intake.peercards import PeerCards
from services.intake.vault import Vault
from shared.auth import Auth
from shared.clock import Clock
from shared.codes import CodeLists
from shared.eventstore import EventStore


@dataclass
class Ports:
    """`store` is a callable because intake connects to NATS after the app is built."""

    store: Callable[[], EventStore]
    engine: Engine
    vault: Vault
    policies: Policies
    auth: Auth
    clock: Clock
    codes: CodeLists
    cards: PeerCards = field(default_factory=PeerCards)

    def dispatch(self) -> Dispatch:
        return Dispatch(self.store(), self.vault, self.policies)
