"""The CAD roster: a coordinator uploads a CSV (`cad_id,member_ref` per line) mapping CAD crew and
dispatcher ids to members, and reads it back. A CAD id already mapped to another member is never moved:
intake refuses the whole file (409) and the page names the conflicting lines, never echoing values."""

from __future__ import annotations

import csv
import io
import re
from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import Response

from services.console.backend import Refused, backend
from services.console.people import signed_in
from services.console.rendering import page
from services.console.security import state_change
from services.console.sessions import Session
from shared.envelope import TOKEN

router = APIRouter(prefix="/coordinator/cad")
Coordinator = Annotated[Session, Depends(signed_in("coordinator"))]
MAX_BYTES = 256 * 1024
MAX_ROWS = 1000
HEADER = ["cad_id", "member_ref"]


class BadFile(Exception):
    """The file cannot be read as a roster; the message names the line, never its content."""


def parse(raw: bytes) -> list[tuple[int, str, str]]:
    """(line number, cad_id, member_ref) for each roster line; a header line is skipped."""
    if len(raw) > MAX_BYTES:
        raise BadFile(f"the file is larger than {MAX_BYTES // 1024} kB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFile("the file is not UTF-8 text") from exc
    rows: list[tuple[int, str, str]] = []
    for n, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [f.strip() for f in fields]
        if not any(cells) or (n == 1 and [c.lower() for c in cells] == HEADER):
            continue
        if len(cells) != 2 or not cells[0] or len(cells[0]) > 128:
            raise BadFile(f"line {n}: expected two columns, cad_id and member_ref")
        if not TOKEN.fullmatch(cells[1]) or len(cells[1]) > 64:
            raise BadFile(f"line {n}: member_ref is not a member reference")
        rows.append((n, cells[0], cells[1]))
    if not rows:
        raise BadFile("the file holds no roster lines")
    if len(rows) > MAX_ROWS:
        raise BadFile(f"at most {MAX_ROWS} lines per file")
    return rows


def conflicting_lines(detail: str, rows: list[tuple[int, str, str]]) -> list[int]:
    """The file's line numbers of the entries intake named (`entries.<i>.…`)."""
    return [rows[int(i)][0] for i in re.findall(r"entries\.(\d+)\.", detail) if int(i) < len(rows)]


@router.get("")
def form(request: Request, me: Coordinator) -> Response:
    return page(request, "coordinator/cad.html")


@router.post("", dependencies=[Depends(state_change)])
async def upload(request: Request, me: Coordinator, roster: Annotated[UploadFile, File()]) -> Response:
    try:
        rows = parse(await roster.read(MAX_BYTES + 1))
    except BadFile as exc:
        return page(request, "coordinator/cad.html", 422, problem=str(exc))
    api = backend(request)
    entries = [{"cad_id": cad, "member_ref": ref} for _, cad, ref in rows]
    try:
        result = await api.call("intake", "PUT", f"/v1/agencies/{me.agency}/roster", me, {"entries": entries})
    except Refused as exc:
        if exc.status not in (409, 422):
            raise
        lines = conflicting_lines(exc.detail, rows)
        return page(request, "coordinator/cad.html", exc.status, problem=exc.detail, lines=lines)
    lookup = {"cad_ids": [cad for _, cad, _ in rows]}
    found = await api.call("intake", "POST", f"/v1/agencies/{me.agency}/roster/lookup", me, lookup)
    return page(request, "coordinator/cad.html", mapped=result["mapped"], readback=found["members"])
