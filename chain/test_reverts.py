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
