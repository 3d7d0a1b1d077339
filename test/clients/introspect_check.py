"""Driven by src/modules/introspection/introspection.python.test.ts: runs the Python example against a
live Bulwark and prints what each path said, as one JSON object."""
import json
import sys

sys.path.insert(0, sys.argv[1])
import jwt  # noqa: E402
from bulwark_auth import current_user, introspect, verify_access_token  # noqa: E402

live, revoked, api_key = sys.argv[2], sys.argv[3], sys.argv[4]
out = {}
out["verified_sub"] = verify_access_token(live)["sub"]
out["revoked_still_verifies"] = verify_access_token(revoked)["sub"]
try:
    verify_access_token(live[:-4] + ("AAAA" if not live.endswith("AAAA") else "BBBB"))
    out["forged"] = "accepted"
except jwt.InvalidTokenError:
    out["forged"] = "refused"
out["live"] = introspect(live)
out["revoked"] = introspect(revoked)
out["key"] = introspect(api_key)
out["dependency_user"] = current_user(f"Bearer {live}")["sub"]
try:
    current_user(f"Bearer {revoked}")
    out["dependency_revoked"] = "accepted"
except Exception as error:  # fastapi.HTTPException
    out["dependency_revoked"] = getattr(error, "status_code", repr(error))
print(json.dumps(out))
