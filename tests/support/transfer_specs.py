"""Transfer specs for the schema tests: one valid spec per core protocol end.

``patched`` derives variants of them (set or delete dotted paths).
"""

from __future__ import annotations

import copy
from typing import Any

DELETE = object()

SSH_SRC = {
    "hostname": "src.example",
    "directory": "/data/out",
    "fileRegex": r"orders_.*\.csv",
    "protocol": {"name": "ssh", "credentials": {"username": "app"}},
}
SFTP_SRC = {
    "hostname": "sftp.example",
    "directory": "/outbound",
    "fileRegex": r".*\.dat",
    "protocol": {"name": "sftp", "credentials": {"username": "acme"}},
}
LOCAL_SRC = {"directory": "/srv/out", "fileRegex": ".*", "protocol": {"name": "local"}}
DUMMY_SRC = {"protocol": {"name": "dummy"}}

SSH_DST = {
    "hostname": "dst.example",
    "directory": "/import",
    "protocol": {"name": "ssh", "credentials": {"username": "app"}},
}
SFTP_DST = {
    "hostname": "sftp.example",
    "directory": "/inbound",
    "protocol": {"name": "sftp", "credentials": {"username": "acme"}},
}
LOCAL_DST = {"directory": "/srv/in", "protocol": {"name": "local"}}
EMAIL_DST = {
    "recipients": ["ops@example.com"],
    "subject": "Files",
    "protocol": {
        "name": "email",
        "smtp_server": "mail.example.com",
        "sender": "Test Sender <test@example.com>",
    },
}
SOURCES = {"ssh": SSH_SRC, "sftp": SFTP_SRC, "local": LOCAL_SRC, "dummy": DUMMY_SRC}
DESTS = {"ssh": SSH_DST, "sftp": SFTP_DST, "local": LOCAL_DST, "email": EMAIL_DST}

PCA_SOURCES = ["ssh", "sftp", "local"]
FULL_CONDITIONALS = {
    "size": {"gt": 1, "lt": 1000},
    "age": {"gt": 30},
    "count": {"minCount": 1, "maxCount": 5},
    "checkDuringFilewatch": True,
}
KEY = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nabc\n-----END PGP PRIVATE KEY BLOCK-----"


def patched(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Copy ``base`` and set (or delete, with DELETE) dotted paths."""
    doc = copy.deepcopy(base)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        target = doc
        for part in parents:
            target = target.setdefault(part, {})
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return doc
