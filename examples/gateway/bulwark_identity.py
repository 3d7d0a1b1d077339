"""Verify the identity Bulwark's gateway sends (GATEWAY_IDENTITY=headers), as a FastAPI dependency.

Standard library only. Bulwark drops every X-Bulwark-* header a client sends and adds its own,
signed with GATEWAY_SECRET: HMAC-SHA256 over a version line, the method, the request target (path
and query as received), the timestamp, and each identity header as `name:value`, joined by "\\n".
Refuse a request whose signature does not match or whose timestamp is more than 60 seconds away.

    from fastapi import Depends, FastAPI
    from bulwark_identity import BulwarkIdentity, bulwark_identity, require_user

    @app.get("/app/me")
    def me(identity: BulwarkIdentity = Depends(require_user)):
        return {"user": identity.user_id}
"""
from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from fastapi import Depends, HTTPException, Request

HEADERS = ("x-bulwark-user", "x-bulwark-role", "x-bulwark-scopes", "x-bulwark-key", "x-bulwark-request-id")
MAX_AGE_SECONDS = 60


@dataclass(frozen=True)
class BulwarkIdentity:
    user_id: Optional[str]
    role: Optional[str]
    scopes: Tuple[str, ...]
    key_id: Optional[str]
    request_id: str


class InvalidIdentity(Exception):
    """The request did not come through Bulwark, was altered, or is too old."""


def verify(secret: bytes, method: str, target: str, headers: Mapping[str, str], now: Optional[float] = None) -> BulwarkIdentity:
    """Checks the signature and its age; returns the identity or raises InvalidIdentity."""
    timestamp = headers.get("x-bulwark-timestamp", "")
    signature = headers.get("x-bulwark-signature", "")
    if not timestamp.isdigit() or not signature.startswith("v1="):
        raise InvalidIdentity("missing or malformed signature")
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_AGE_SECONDS:
        raise InvalidIdentity("stale signature")
    values = [headers.get(name, "") for name in HEADERS]
    base = "\n".join(["bulwark-v1", method.upper(), target, timestamp] + [f"{n}:{v}" for n, v in zip(HEADERS, values)])
    expected = "v1=" + hmac.new(secret, base.encode("utf-8"), hashlib.sha256).hexdigest()
    # Constant time: a byte-by-byte compare would tell an attacker how much of a guess was right.
    if not hmac.compare_digest(expected, signature):
        raise InvalidIdentity("bad signature")
    user, role, scopes, key, request_id = values
    return BulwarkIdentity(user or None, role or None, tuple(s for s in scopes.split(",") if s), key or None, request_id)


def _secret() -> bytes:
    secret = os.environ.get("BULWARK_GATEWAY_SECRET", "")
    if len(secret.encode()) < 32:
        raise RuntimeError("BULWARK_GATEWAY_SECRET must hold Bulwark's GATEWAY_SECRET (at least 32 bytes)")
    return secret.encode()


def bulwark_identity(request: Request) -> BulwarkIdentity:
    """FastAPI dependency: the verified caller (user_id None for an anonymous one), or 401."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    try:
        return verify(_secret(), request.method, target, request.headers)
    except InvalidIdentity as error:
        raise HTTPException(status_code=401, detail=str(error))


def require_user(identity: BulwarkIdentity = Depends(bulwark_identity)) -> BulwarkIdentity:
    """FastAPI dependency: a signed-in user or an API key's owner, or 401."""
    if identity.user_id is None:
        raise HTTPException(status_code=401, detail="not signed in")
    return identity


def require_admin(identity: BulwarkIdentity = Depends(require_user)) -> BulwarkIdentity:
    """FastAPI dependency: an admin, or 403 (Bulwark's rule should already say so; this is the second lock)."""
    if identity.role != "admin":
        raise HTTPException(status_code=403, detail="admin only")
    return identity
