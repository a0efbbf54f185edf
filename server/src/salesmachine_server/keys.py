"""The server key, and the project secrets derived from it.

A project's secret must be checked on every request (only its hash is needed for that) and,
for identity verification, used as an HMAC key (which needs the secret itself). Rather than
keep secrets in the database, the server derives each one from a server key and the project's
token: a dump of the database reveals no secret, and the server can recompute any secret it
issued. Keep the key file (or SALESMACHINE_SECRET_KEY) with your backups: without it the
stored hashes still authenticate clients, but identity verification cannot be checked.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from salesmachine_server.settings import Settings

KEY_BYTES = 32


def load_server_key(settings: Settings) -> bytes:
    """The key from the environment, else from the key file, which is created when missing."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = Path(settings.key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not each write a different key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(KEY_BYTES) + "\n")
    key = path.read_text().strip()
    if not key:
        raise ValueError(f"the server key file {path} is empty")
    return key.encode()


def derive_secret(server_key: bytes, token: str) -> str:
    """The project secret for a token: 160 bits, hex."""
    return hmac.new(server_key, f"project-secret:{token}".encode(), hashlib.sha256).hexdigest()[:40]


def user_hash(secret: str, contact_uid: str) -> str:
    """What a page must send to prove it speaks for a contact (identity verification)."""
    return hmac.new(secret.encode(), contact_uid.encode(), hashlib.sha256).hexdigest()
