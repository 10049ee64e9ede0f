import pytest

import chain.reverts as reverts
from chain.reverts import ContractRevert


def test_a_declared_custom_error_is_a_stable_contract_revert_class():
    from chain.reverts import NotMember, UnknownTask

    assert issubclass(NotMember, ContractRevert) and issubclass(UnknownTask, ContractRevert)
    assert reverts.NotMember is NotMember and NotMember.__name__ == "NotMember"


def test_a_name_no_contract_declares_cannot_be_imported():
    with pytest.raises(ImportError, match="NotAMember"):
        from chain.reverts import NotAMember  # noqa: F401
    with pytest.raises(AttributeError):
        reverts.WrongPrevHsh  # a typo in an `except` list would otherwise never match


def test_format_revert_names_ids_keeps_hashes_hex_and_applies_the_features_formats():
    # Prepare: an org id, a hash that is no text, an address in lower case, and a formatter for one argument
    args = {"orgId": b"factory-1".ljust(32, b"\0"), "root": b"\x01" * 32, "account": "0x" + "ab" * 20, "role": 16}
    # Execute
    text = reverts.format_revert("Example", args, {"role": lambda v: f"<{v}>"})
    # Assert
    assert text == f"Example(orgId=factory-1, root=0x{'01' * 32}, account=0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB, role=<16>)"


def test_format_enum_shows_the_mirror_name_and_a_value_it_lacks_as_a_number():
    import enum

    class State(enum.IntEnum):
        NONE = 0
        OPEN = 1

    fmt = reverts.format_enum(State)
    assert (fmt(1), fmt(7)) == ("OPEN", "7")
