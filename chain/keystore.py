"""Participants' keys in encrypted eth-account keystores (V3 JSON), one file per name.

The password comes from the settings (`FEDPM_KEYS_PASSWORD`, or better `FEDPM_KEYS_PASSWORD_FILE`); it is
never stored. A password file must be readable by its owner only (`chmod 600`). Only the address is readable
without the password, which is all a deployer needs to name governors. New keystores use scrypt with N of at
least 2**14 (default 2**18); only tests and the demo, with `keys.allow_weak_scrypt`, may go lower for speed.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import is_hex_address, to_checksum_address

from chain.errors import KeystoreError
from chain.settings import KeySettings

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SCRYPT_N_FLOOR = 2**14  # the "light" scrypt cost of geth/eth-keystore; eth-account's default is 2**18


def check_scrypt_n(keys: KeySettings) -> int:
    n = keys.scrypt_n
    if n < 2 or n & (n - 1):
        raise KeystoreError(f"keys.scrypt_n={n} is not a power of two", hint="set FEDPM_KEYS_SCRYPT_N to 2**18 (262144) or another power of two >= 2**14")
    if n < SCRYPT_N_FLOOR and not keys.allow_weak_scrypt:
        raise KeystoreError(f"keys.scrypt_n={n} is below the floor of {SCRYPT_N_FLOOR} (2**14)",
                            hint="unset FEDPM_KEYS_SCRYPT_N (default 2**18); lower values are for tests and the demo only")
    return n


def resolve_password(keys: KeySettings) -> str:
    if keys.password_file is not None:
        try:
            mode = keys.password_file.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeystoreError(f"password file {keys.password_file} is accessible by other users (mode {stat.S_IMODE(mode):04o})",
                                    hint=f"run `chmod 600 {keys.password_file}`")
            return keys.password_file.read_text().rstrip("\n")
        except OSError as exc:
            raise KeystoreError(f"cannot read password file {keys.password_file}: {exc.strerror}", hint="fix FEDPM_KEYS_PASSWORD_FILE") from None
    if keys.password is not None:
        return keys.password
    raise KeystoreError("no keystore password given", hint="set FEDPM_KEYS_PASSWORD_FILE (or FEDPM_KEYS_PASSWORD)")


class Keystore:
    def __init__(self, directory: Path, keys: KeySettings) -> None:
        self.directory = directory
        self.keys = keys

    def path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise KeystoreError(f"invalid account name {name!r}", hint="use letters, digits, '.', '_' or '-'")
        return self.directory / f"{name}.json"

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.json")) if self.directory.is_dir() else []

    def create(self, name: str, private_key: bytes | None = None) -> str:
        """Create keystore `name` (a new random key unless one is given); returns the address."""
        path = self.path(name)
        if path.exists():
            raise KeystoreError(f"keystore {name!r} already exists at {path}", hint="choose another name or delete the file")
        n = check_scrypt_n(self.keys)
        account = Account.from_key(private_key) if private_key else Account.create()
        data = Account.encrypt(account.key, resolve_password(self.keys), kdf="scrypt", iterations=n)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # readable by the owner only
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        return account.address

    def _read(self, name: str) -> dict:
        """The keystore's V3 JSON, checked for the fields `address` and `load` read."""
        path = self.path(name)
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise KeystoreError(f"no keystore named {name!r} in {self.directory}", hint=f"create it with `fedpm account new {name}`") from None
        except OSError as exc:
            raise KeystoreError(f"keystore {path} is unreadable: {exc.strerror}", hint="check the file's permissions, or restore it from your backup") from None
        except ValueError:  # JSONDecodeError, or bytes that are no UTF-8 text at all
            raise KeystoreError(f"keystore {path} is not JSON", hint="restore it from your backup") from None
        problem = v3_problem(data)
        if problem:
            raise KeystoreError(f"keystore {path} is corrupt: {problem}", hint="restore it from your backup")
        return data

    def address(self, name: str) -> str:
        return to_checksum_address(self._read(name)["address"])

    def load(self, name: str) -> LocalAccount:
        data = self._read(name)
        password = resolve_password(self.keys)
        try:
            key = Account.decrypt(data, password)
        except ValueError as exc:
            if "MAC mismatch" not in str(exc):  # eth-keyfile's only word for a wrong password (or altered ciphertext)
                raise KeystoreError(f"keystore {self.path(name)} is corrupt: {exc}", hint="restore it from your backup") from None
            raise KeystoreError(f"wrong password for keystore {name!r}", hint="check FEDPM_KEYS_PASSWORD_FILE / FEDPM_KEYS_PASSWORD") from None
        except (KeyError, TypeError, NotImplementedError) as exc:
            raise KeystoreError(f"keystore {self.path(name)} is corrupt: cannot decrypt it ({type(exc).__name__}: {exc})", hint="restore it from your backup") from None
        return Account.from_key(key)


_V3_CRYPTO = ("cipher", "cipherparams", "ciphertext", "kdf", "kdfparams", "mac")


def v3_problem(data: object) -> str | None:
    """What makes `data` no V3 keystore (the Web3 Secret Storage layout), or None."""
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an object"
    if data.get("version") != 3:
        return "no \"version\": 3" if "version" not in data else f"version {data['version']!r}, not 3"
    address = data.get("address")
    if not isinstance(address, str) or not is_hex_address(address if address.startswith("0x") else "0x" + address):
        return "no valid \"address\""
    crypto = data.get("crypto", data.get("Crypto"))
    if not isinstance(crypto, dict):
        return "no \"crypto\" object"
    missing = [k for k in _V3_CRYPTO if k not in crypto]
    return f"\"crypto\" lacks {', '.join(missing)}" if missing else None
