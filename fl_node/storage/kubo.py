"""Content store on a kubo node's HTTP RPC (`/api/v0/...`), for real deployments.

A thin `urllib` client rather than ipfshttpclient: `ipfshttpclient.connect()` 0.7.0 refuses every kubo newer
than 0.7, and four endpoints do not justify working around its version gate. Every RPC is a POST (kubo rejects
GET). `add` passes kubo's import defaults explicitly, because a node's `Import.*` config may change them, and
checks the returned CID against `cid_of`: the CID is what goes on chain, so it must not depend on node config.
"""

from __future__ import annotations

import json
import re
import socket
import uuid
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from fl_node.errors import IntegrityError, ObjectNotFound, StorageError
from fl_node.storage.base import check_cid
from fl_node.storage.cid import CHUNK_SIZE, cid_of

# kubo's messages when a block is absent: offline lookups, fetches cut by `timeout`, unknown paths
_MISSING = re.compile(r"not found|could not find|deadline exceeded|no link named", re.IGNORECASE)
_ADD_PARAMS = {"pin": "true", "cid-version": "0", "raw-leaves": "false", "chunker": f"size-{CHUNK_SIZE}", "progress": "false"}


class KuboStore:
    def __init__(self, api: str = "http://127.0.0.1:5001", timeout_s: float = 60.0) -> None:
        self.api = api.rstrip("/")
        self.timeout_s = timeout_s

    def add(self, data: bytes) -> str:
        cid = cid_of(data)
        boundary = uuid.uuid4().hex
        body = b"".join((
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{cid}"\r\n'.encode(),
            b"Content-Type: application/octet-stream\r\n\r\n", bytes(data), f"\r\n--{boundary}--\r\n".encode(),
        ))
        reply = self._call("add", _ADD_PARAMS, body, f"multipart/form-data; boundary={boundary}", cid)
        try:  # one JSON object per line; the root is the last (and, for one file, the only) one
            returned = json.loads(reply.strip().splitlines()[-1])["Hash"]
        except (ValueError, IndexError, KeyError, TypeError):
            raise StorageError(f"kubo at {self.api} sent an unreadable add reply: {reply[:200]!r}", hint="check that FEDPM_STORAGE_IPFS_API points at a kubo RPC API") from None
        if returned != cid:
            raise StorageError(
                f"kubo at {self.api} stored the object as {returned}, not its CIDv0 {cid}",
                hint="the node imports with non-default settings; reset its Import.* config to kubo's defaults",
            )
        return cid

    def cat(self, cid: str) -> bytes:
        data = self._call("cat", {"arg": check_cid(cid), "timeout": self._go_timeout()}, cid=cid)
        if cid_of(data) != cid:  # do not trust the transport or a proxy in front of the node
            raise IntegrityError(f"kubo at {self.api} returned bytes for {cid} that do not hash to it", hint="check the node and anything proxying its API")
        return data

    def has(self, cid: str) -> bool:
        """Whether the node holds the object's root block now, without asking the network."""
        try:
            self._call("block/stat", {"arg": check_cid(cid), "offline": "true"}, cid=cid)
        except ObjectNotFound:
            return False
        return True

    def pin(self, cid: str) -> None:
        self._call("pin/add", {"arg": check_cid(cid), "timeout": self._go_timeout()}, cid=cid)

    def _go_timeout(self) -> str:
        return f"{max(1, int(self.timeout_s))}s"  # kubo's global `timeout` option, a Go duration

    def _call(self, endpoint: str, params: dict[str, str], body: bytes = b"", content_type: str | None = None, cid: str | None = None) -> bytes:
        request = Request(f"{self.api}/api/v0/{endpoint}?{urlencode(params)}", data=body, method="POST")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            # kubo stops at its own `timeout`; the socket waits a little longer so kubo's answer wins
            with urlopen(request, timeout=self.timeout_s + 5) as response:
                return response.read()
        except HTTPError as exc:
            message, from_kubo = _rpc_message(exc)
            if cid is not None and from_kubo and _MISSING.search(message):  # not a proxy's "404 page not found"
                raise ObjectNotFound(cid) from None
            raise StorageError(f"kubo at {self.api} refused {endpoint}: {message}", hint="see the kubo node's log") from None
        except (TimeoutError, socket.timeout):
            raise StorageError(f"kubo at {self.api} did not answer {endpoint} within {self.timeout_s + 5:.0f} s", hint="check the node's load and connectivity") from None
        except (URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StorageError(
                f"no kubo node answers at {self.api} ({reason})",
                hint="start kubo (`ipfs daemon`) or set FEDPM_STORAGE_IPFS_API to its RPC address",
            ) from None


def _rpc_message(exc: HTTPError) -> tuple[str, bool]:
    """The error text, and whether it is kubo's own error: HTTP 500 with JSON {"Message", "Code", "Type"}."""
    raw = exc.read() or b""
    try:
        return str(json.loads(raw)["Message"]), exc.code == 500
    except (ValueError, KeyError, TypeError):
        return f"HTTP {exc.code} {raw.decode(errors='replace').strip()[:200]}", False
