"""Alibaba Cloud's RPC request signature (signature method V2, ``SignatureVersion=1.0``).

As Alibaba documents it: percent-encode each parameter name and value (RFC 3986: only
``A-Z a-z 0-9 - _ . ~`` stay as they are, a space is ``%20``), sort by name, join as
``name=value`` with ``&``; the string to sign is ``METHOD&%2F&`` + that string percent-encoded
once more; the signature is the Base64 of its HMAC-SHA1 under the key ``AccessKeySecret + "&"``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote


def percent_encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(method: str, params: dict[str, str]) -> str:
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def signature(method: str, params: dict[str, str], secret: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
