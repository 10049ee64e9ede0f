from fedpm.consortium.client import Role, format_roles


def test_format_roles_names_each_bit_and_keeps_unknown_bits_visible():
    assert format_roles(int(Role.TRAINER)) == "TRAINER"
    assert format_roles(int(Role.OPERATOR | Role.TRAINER)) == "OPERATOR,TRAINER"
    assert format_roles(0) == "none"
    assert format_roles(int(Role.GOVERNOR) | 1 << 7) == "GOVERNOR,bits 0x80"
