"""A seed-style FastAPI backend behind Bulwark's gateway (docs/gateway.md).

It has no login, no sessions, no rate limits and no CORS of its own: Bulwark does all of that and
tells it who is calling. Run it with `BULWARK_GATEWAY_SECRET=... uvicorn app:app --port 8000`.
"""
from __future__ import annotations

from typing import Dict, List

from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field

from bulwark_identity import BulwarkIdentity, bulwark_identity, require_admin, require_user

app = FastAPI(title="notes", docs_url=None, redoc_url=None, openapi_url=None)
NOTES: Dict[str, List[str]] = {}


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=500)


@app.get("/public/hello")
def hello(identity: BulwarkIdentity = Depends(bulwark_identity)):
    return {"hello": "world", "request_id": identity.request_id}


@app.get("/app/me")
def me(identity: BulwarkIdentity = Depends(require_user)):
    return {"user": identity.user_id, "role": identity.role, "key": identity.key_id, "scopes": list(identity.scopes)}


@app.get("/app/notes")
def list_notes(identity: BulwarkIdentity = Depends(require_user)):
    return {"notes": NOTES.get(identity.user_id or "", [])}


@app.post("/app/notes", status_code=201)
def add_note(note: NoteIn, identity: BulwarkIdentity = Depends(require_user)):
    NOTES.setdefault(identity.user_id or "", []).append(note.text)
    return {"count": len(NOTES[identity.user_id or ""])}


@app.get("/app/admin/stats")
def stats(identity: BulwarkIdentity = Depends(require_admin)):
    return {"users": len(NOTES)}


@app.get("/reports/summary")
def summary(identity: BulwarkIdentity = Depends(require_user)):
    return {"key": identity.key_id, "scopes": list(identity.scopes), "notes": sum(len(n) for n in NOTES.values())}
