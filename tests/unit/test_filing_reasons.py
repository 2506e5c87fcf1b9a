"""A filing decision's or a deregistration's reason travels in its event to the agencies granted it
(shared/grants.yaml), so it is public text: a mobile number typed into it is refused like an ID
number, with the field named, before anything is written."""

from __future__ import annotations

import pydantic
import pytest

from services.filing.institutions.schemas import DecisionIn, DeregistrationIn

MOBILE = "请联系园长13800138000"
RESIDENT_ID = "当事人440106199001018779"


@pytest.mark.parametrize("text", [MOBILE, RESIDENT_ID])
def test_a_reason_with_personal_data_is_refused(text: str) -> None:
    for model, body in ((DecisionIn, {"decision": "return", "reason": text}), (DeregistrationIn, {"reason": text})):
        with pytest.raises(pydantic.ValidationError) as refused:
            model.model_validate(body)
        [error] = refused.value.errors()
        assert error["type"] == "personal_data_in_text"
        assert error["loc"][0] == "reason"


def test_a_plain_reason_is_accepted() -> None:
    assert DeregistrationIn.model_validate({"reason": "举办者申请停止办托"}).reason == "举办者申请停止办托"
    assert DecisionIn.model_validate({"decision": "reject", "reason": "场地面积不足"}).reason == "场地面积不足"
