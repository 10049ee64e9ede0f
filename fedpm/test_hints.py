import pytest
from eth_abi import encode
from eth_utils import keccak

from chain.reverts import GENERIC_HINTS, RevertDecoder, declared_errors
from fedpm.hints import REVERT_FORMATS, REVERT_HINTS

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


def test_every_format_names_a_declared_error_and_one_of_its_arguments():
    # Prepare: the compiled contracts' errors, by name -> argument names
    from chain.compile import all_error_abis, compile_contracts

    arguments = {item["name"]: {i["name"] for i in item["inputs"]} for item in all_error_abis(compile_contracts())}
    # Assert: a renamed error or argument would silently drop its format otherwise
    assert {(e, a) for e, args in REVERT_FORMATS.items() for a in args} <= {(e, a) for e, args in arguments.items() for a in args}


@pytest.mark.parametrize("name,types,values,expected", [
    ("MissingRole", ["address", "uint256"], ["0x" + "ab" * 20, 16], "MissingRole(account=0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB, role=TRAINER)"),
    ("InvalidRoles", ["uint256"], [0b10010], "InvalidRoles(roles=OPERATOR,TRAINER)"),
    ("ERC20InsufficientBalance", ["address", "uint256", "uint256"], ["0x" + "11" * 20, 25 * 10**17, 1000 * 10**18],
     "balance=2.5 FCT, needed=1000 FCT)"),
    ("DepositTooLow", ["uint256", "uint256"], [10**18, 10 * 10**18], "DepositTooLow(amount=1 FCT, minDeposit=10 FCT)"),
    ("WrongStatus", ["uint256", "uint8"], [3, 4], "WrongStatus(leaseId=3, status=Closing)"),
    ("WrongRoundState", ["uint256", "uint256", "uint8"], [0, 1, 5], "WrongRoundState(taskId=0, round=1, state=FAILED)"),
    ("AlreadyApproved", ["uint256", "bytes32"], [2, b"gov-a".ljust(32, b"\0")], "AlreadyApproved(proposalId=2, governorOrg=gov-a)"),
], ids=["role", "roles", "erc20-balance", "deposit", "lease-status", "round-state", "org-id"])
def test_decoded_reverts_speak_the_users_language(name, types, values, expected):
    # Prepare: the error as the compiled contracts declare it, and its revert data
    from chain.compile import all_error_abis, compile_contracts

    abi = [item for item in all_error_abis(compile_contracts()) if item["name"] == name]
    # Execute
    message = str(RevertDecoder(abi, REVERT_HINTS, REVERT_FORMATS).decode(_data(name, types, *values)))
    # Assert
    assert expected in message
