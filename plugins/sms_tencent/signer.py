"""Tencent Cloud API 3.0's request signature, TC3-HMAC-SHA256, as Tencent documents it.

The canonical request is ``METHOD\\n/\\n\\n`` + the signed headers, each ``name:value\\n`` in
lower case (here ``content-type`` and ``host``), a blank line, their names joined by ``;``, and
the hex SHA-256 of the body. The string to sign is ``TC3-HMAC-SHA256\\n<timestamp>\\n<date>/
<service>/tc3_request\\n`` + the hex SHA-256 of the canonical request. The key is derived by
HMAC-SHA256 chaining: ``"TC3" + SecretKey`` signs the UTC date, that signs the service, that
signs ``tc3_request``; the signature is the hex HMAC-SHA256 of the string to sign under it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

ALGORITHM = "TC3-HMAC-SHA256"
SIGNED_HEADERS = "content-type;host"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def canonical_request(content_type: str, host: str, payload: bytes) -> str:
    return (f"POST\n/\n\ncontent-type:{content_type}\nhost:{host}\n\n{SIGNED_HEADERS}\n"
            f"{hashlib.sha256(payload).hexdigest()}")


def authorization(secret_id: str, secret_key: str, service: str, host: str, content_type: str,
                  payload: bytes, timestamp: int) -> str:
    """The ``Authorization`` header of a POST to ``host`` with this body at ``timestamp``."""
    date = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = (f"{ALGORITHM}\n{timestamp}\n{scope}\n"
               f"{hashlib.sha256(canonical_request(content_type, host, payload).encode()).hexdigest()}")
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
