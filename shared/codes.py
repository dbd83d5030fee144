"""Per-agency code lists: the only values a coded field (unit, discipline) takes. A value a person typed
that is not on the agency's list becomes `other`, so free text never reaches the log or a report's
column labels.

`PEERLINE_CODES_FILE` names a JSON file `{"<agency>" | "*": {"units": [...], "disciplines": [...]}}`;
`*` applies to agencies without an entry. Without a file no unit is configured (every unit is `other`)
and the disciplines are the contract's (`shared.contracts.intake.Discipline`).
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.contracts.intake import Discipline
from shared.fields import Id

OTHER = "other"
DISCIPLINES: tuple[str, ...] = get_args(Discipline)


class AgencyCodes(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    units: frozenset[Id] = Field(default=frozenset(), max_length=1000)
    disciplines: frozenset[str] = frozenset(DISCIPLINES)


class CodeLists:
    def __init__(self, agencies: dict[str, AgencyCodes] | None = None) -> None:
        self.agencies = agencies or {}
        self.default = self.agencies.get("*", AgencyCodes())

    @classmethod
    def load(cls, path: Path | None) -> CodeLists:
        if path is None:
            return cls()
        raw = path.read_bytes()
        return cls(TypeAdapter(dict[str, AgencyCodes]).validate_json(raw))

    def of(self, agency: str) -> AgencyCodes:
        return self.agencies.get(agency, self.default)

    def unit(self, agency: str, value: str | None) -> str | None:
        """The unit's code, `other` when it is not on the agency's list (None stays None)."""
        return value if value is None or value in self.of(agency).units else OTHER

    def discipline(self, agency: str, value: str | None) -> str | None:
        return value if value is None or value in self.of(agency).disciplines else OTHER
