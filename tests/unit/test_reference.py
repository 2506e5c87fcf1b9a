"""Unit tests for shared.reference (Guangzhou districts and streets)."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.reference import (
    District,
    ReferenceDataError,
    Street,
    district_by_name_or_code,
    districts,
    streets,
    streets_of,
    validate_location,
)

EXPECTED_DISTRICTS = {
    "440103": "荔湾区",
    "440104": "越秀区",
    "440105": "海珠区",
    "440106": "天河区",
    "440111": "白云区",
    "440112": "黄埔区",
    "440113": "番禺区",
    "440114": "花都区",
    "440115": "南沙区",
    "440117": "从化区",
    "440118": "增城区",
}
EXPECTED_STREET_COUNTS = {
    "440103": 22,
    "440104": 18,
    "440105": 18,
    "440106": 21,
    "440111": 24,
    "440112": 17,
    "440113": 16,
    "440114": 10,
    "440115": 9,
    "440117": 10,
    "440118": 13,
}


def test_district_count_and_names() -> None:
    ds = districts()
    assert len(ds) == 11
    assert {code: d.name for code, d in ds.items()} == EXPECTED_DISTRICTS


def test_street_count() -> None:
    assert len(streets()) == 178
    assert sum(EXPECTED_STREET_COUNTS.values()) == 178


def test_tianhe_figures() -> None:
    d = districts()["440106"]
    assert d == District(
        code="440106",
        name="天河区",
        slots_2022=6716,
        target_2023=8320,
        target_2024=13960,
        target_2025=17060,
        slots_planned_2025=17060,
        population_10k=223.80,
    )
    assert d.slots_to_add == 10344
    assert isinstance(d.population_10k, float)


def test_targets_are_monotonic() -> None:
    for d in districts().values():
        assert d.slots_2022 <= d.target_2023 <= d.target_2024 <= d.target_2025, d.name
        assert d.population_10k > 0


def test_streets_are_consistent() -> None:
    for code, s in streets().items():
        assert code == s.code
        assert len(code) == 9
        assert code.isdigit()
        assert code.startswith(s.district_code)
        assert s.district_code in districts()
        assert s.name


def test_known_street() -> None:
    assert streets()["440103001"] == Street(code="440103001", name="沙面街道", district_code="440103")


def test_results_are_cached() -> None:
    assert districts() is districts()
    assert streets() is streets()


def test_dataclasses_are_frozen() -> None:
    d = districts()["440106"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.name = "x"  # type: ignore[misc]
    s = streets()["440103001"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.district_code = "440106"  # type: ignore[misc]


@pytest.mark.parametrize("value", ["440106", "天河区", "天河", " 天河区 ", "４４０１０６", "440106\n"])
def test_district_lookup(value: str) -> None:
    d = district_by_name_or_code(value)
    assert d is not None
    assert d.code == "440106"


@pytest.mark.parametrize("value", ["", "   ", "440100", "44010", "4401060", "深圳市", "天河区区", "福田区", "区"])
def test_district_lookup_unknown(value: str) -> None:
    assert district_by_name_or_code(value) is None


@pytest.mark.parametrize(("code", "count"), sorted(EXPECTED_STREET_COUNTS.items()))
def test_streets_of(code: str, count: int) -> None:
    result = streets_of(code)
    assert len(result) == count
    assert all(s.district_code == code for s in result)
    assert [s.code for s in result] == sorted(s.code for s in result)


def test_streets_of_by_name_and_unknown() -> None:
    assert streets_of("荔湾区") == streets_of("440103")
    assert streets_of("440199") == []
    assert streets_of("") == []


def test_streets_of_returns_a_copy() -> None:
    result = streets_of("440103")
    result.clear()
    assert len(streets_of("440103")) == 22


def test_validate_location_ok() -> None:
    d, s = validate_location("440103", "440103001")
    assert d.name == "荔湾区"
    assert s.name == "沙面街道"
    assert validate_location("荔湾区", " 440103001 ") == (d, s)


def test_unknown_district() -> None:
    with pytest.raises(ReferenceDataError) as exc_info:
        validate_location("440300", "440103001")
    err = exc_info.value
    assert (err.field, err.code) == ("district", "unknown_district")
    assert "440300" in err.message_zh
    assert isinstance(err, ValueError)


def test_unknown_street() -> None:
    with pytest.raises(ReferenceDataError) as exc_info:
        validate_location("440106", "440106999")
    err = exc_info.value
    assert (err.field, err.code) == ("street_code", "unknown_street")
    assert "440106999" in err.message_zh


def test_empty_street() -> None:
    with pytest.raises(ReferenceDataError) as exc_info:
        validate_location("天河区", "")
    assert exc_info.value.code == "unknown_street"


def test_street_not_in_district() -> None:
    with pytest.raises(ReferenceDataError) as exc_info:
        validate_location("天河区", "440103001")
    err = exc_info.value
    assert (err.field, err.code) == ("street_code", "street_not_in_district")
    assert "沙面街道" in err.message_zh
    assert "天河区" in err.message_zh
    assert "荔湾区" in err.message_zh


def test_district_checked_before_street() -> None:
    with pytest.raises(ReferenceDataError) as exc_info:
        validate_location("不存在区", "nonsense")
    assert exc_info.value.code == "unknown_district"


def test_long_input_is_truncated_in_message() -> None:
    with pytest.raises(ReferenceDataError) as exc_info:
        validate_location("天" * 500, "440103001")
    assert len(exc_info.value.message_zh) < 100


def test_reference_error_pickles() -> None:
    err = ReferenceDataError("street_code", "unknown_street", "街道（镇）代码不存在")
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.field, clone.code, clone.message_zh) == (err.field, err.code, err.message_zh)


street_codes = st.sampled_from(sorted(streets()))
district_codes = st.sampled_from(sorted(districts()))


@given(street_codes, district_codes)
def test_location_property(street_code: str, district_code: str) -> None:
    street = streets()[street_code]
    district = districts()[district_code]
    if street.district_code == district_code:
        assert validate_location(district.name, street_code) == (district, street)
        assert validate_location(district_code, street_code) == (district, street)
    else:
        with pytest.raises(ReferenceDataError) as exc_info:
            validate_location(district.name, street_code)
        assert exc_info.value.code == "street_not_in_district"
        assert street.name in exc_info.value.message_zh
