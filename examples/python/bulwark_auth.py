"""Verify Bulwark credentials in a Python service (FastAPI), with PyJWT.

Two paths, used together:

- the fast path: an access token is an EdDSA JWT; verify it locally against Bulwark's JWKS
  (cached by PyJWKClient). No network call per request, but a token stays valid until it expires
  (ACCESS_TOKEN_TTL, 15 minutes by default) even after its session ends;
- introspection: POST /api/auth/introspect answers from Bulwark's own caches, so a logout, a
  revoked session or key, or a disabled account is refused at once. It also checks API keys,
  which cannot be verified locally. It costs one call (counted in the `introspect` class).

Settings: BULWARK_URL (its PUBLIC_URL) and BULWARK_INTROSPECT_KEY (an API key with the
`introspect` scope; keep it secret).
"""
import json
import os
import urllib.error
import urllib.request

import jwt  # PyJWT (Debian: python3-jwt)

BULWARK_URL = os.environ.get("BULWARK_URL", "http://127.0.0.1:8080").rstrip("/")
INTROSPECT_KEY = os.environ.get("BULWARK_INTROSPECT_KEY", "")

_jwks = jwt.PyJWKClient(f"{BULWARK_URL}/.well-known/jwks.json", cache_keys=True)


def verify_access_token(token: str) -> dict:
    """The fast path: signature (EdDSA only), issuer, audience and expiry. Raises jwt.InvalidTokenError."""
    key = _jwks.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],  # never take the algorithm from the token
        issuer=BULWARK_URL,
        audience=f"{BULWARK_URL}/api",
        options={"require": ["exp", "iat", "sub", "sid"]},
    )


def introspect(token: str) -> dict:
    """Asks Bulwark whether an access token or API key is active now: {"active": bool, "sub", "role", ...}."""
    request = urllib.request.Request(
        f"{BULWARK_URL}/api/auth/introspect",
        data=json.dumps({"token": token}).encode(),
        headers={"content-type": "application/json", "x-api-key": INTROSPECT_KEY},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def current_user(authorization: str = "") -> dict:
    """A FastAPI dependency: `user = Depends(current_user)`. Refuses with 401 unless Bulwark says active."""
    from fastapi import HTTPException  # imported here so the functions above work without FastAPI

    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(status_code=401, detail="bearer token required", headers={"WWW-Authenticate": "Bearer"})
    if not token.startswith("bwk_"):
        try:
            verify_access_token(token)  # cheap refusal of forged or expired tokens, no call
        except jwt.InvalidTokenError:
            raise HTTPException(status_code=401, detail="invalid token", headers={"WWW-Authenticate": "Bearer"})
    answer = introspect(token)  # instant revocation, and API keys
    if not answer.get("active"):
        raise HTTPException(status_code=401, detail="inactive token", headers={"WWW-Authenticate": "Bearer"})
    return answer
