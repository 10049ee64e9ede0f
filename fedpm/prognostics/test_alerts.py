"""Machine classes, rules, the fleet file and alert ids (pure)."""

from __future__ import annotations

import pytest

from fedpm.prognostics.alerts import TURBOFAN, Alert, Fleet, FleetError, should_raise


def test_the_most_severe_applicable_rule_wins():
    assert TURBOFAN.rule_for(45.0) is None
    assert TURBOFAN.rule_for(29.99).level == "plan"
    assert TURBOFAN.rule_for(9.5).level == "stop"
    assert TURBOFAN.rule_for(0.0).level == "stop"


def test_an_alert_is_raised_once_per_level_and_escalates():
    plan, stop = TURBOFAN.rule_for(20), TURBOFAN.rule_for(5)

    assert should_raise(plan, None) and should_raise(stop, "plan")
    assert not should_raise(plan, "plan") and not should_raise(plan, "stop") and not should_raise(None, None)


def test_the_fleet_file_maps_machines_to_classes_and_refuses_what_it_cannot_use():
    fleet = Fleet.from_json({"machines": {"a": "turbofan", "b": "press"},
                             "classes": {"press": {"task_kind": "press_rul", "rules": [{"below": 5, "level": "stop", "action": "halt"}]}}})

    assert fleet.class_of("a") is TURBOFAN and fleet.class_of("b").task_kind == "press_rul" and fleet.class_of("c") is None
    assert Fleet(default_class="turbofan").class_of("c") is TURBOFAN
    for bad in ({"machines": {"a": "lathe"}}, {"machines": ["a"]}, {"classes": {"x": {"task_kind": "k", "rules": [{"below": 5, "level": "panic", "action": "x"}]}}},
                {"machines": {}, "extra": 1}, [], {"default_class": "nope"}):
        with pytest.raises(FleetError):
            Fleet.from_json(bad)


def test_an_alert_id_is_the_keccak_of_its_canonical_bytes_and_survives_a_round_trip():
    a = Alert("m", "turbofan", "plan", "inspect", 21.37, 30.0, 0, 3, "0x" + "ab" * 32, 1_000, 50_000, ("0xdev:4:0xroot",), 1_700_000_000)
    b = Alert.from_json(a.to_json())

    assert a.id == b.id and a.canonical_bytes() == b.canonical_bytes() and a.id.startswith("0x") and len(a.id) == 66
    assert Alert(**{**a.__dict__, "rul": 21.38}).id != a.id  # any field changes the id
