from eth_abi import encode
from eth_utils import keccak

from chain.reverts import GENERIC_HINTS, RevertDecoder, declared_errors
from fedpm.hints import REVERT_HINTS

WRONG_PREV = {"type": "error", "name": "WrongPrevHash", "inputs": [{"name": "expected", "type": "bytes32"}]}
NOT_MEMBER = {"type": "error", "name": "NotMember", "inputs": [{"name": "account", "type": "address"}]}


def _data(name: str, types: list[str], *values: object) -> bytes:
    return keccak(text=f"{name}({','.join(types)})")[:4] + encode(types, list(values))


def test_every_hint_names_an_error_some_contract_declares():
    assert set(REVERT_HINTS) | set(GENERIC_HINTS) <= declared_errors()


def test_a_feature_hint_reaches_the_decoded_revert_only_when_handed_in():
    data = _data("WrongPrevHash", ["bytes32"], b"\1" * 32)

    bare = RevertDecoder([WRONG_PREV]).decode(data)
    wired = RevertDecoder([WRONG_PREV], REVERT_HINTS).decode(data)
    generic = RevertDecoder([NOT_MEMBER]).decode(_data("NotMember", ["address"], "0x" + "11" * 20))

    assert bare.hint is None and "fedpm maintenance sync" in wired.hint
    assert generic.hint == GENERIC_HINTS["NotMember"]
