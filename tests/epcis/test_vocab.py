"""The CBV vocabulary: every kind the export writes is captured back as the same kind, and
the steps refused are exactly the CBV steps no kind stands for."""

from __future__ import annotations

import pytest

from domain.custody import Kind
from epcis.export import DISPOSITION_OF_KIND, STEP_OF_KIND
from epcis.vocab import CBV_BIZ_STEPS, OBSERVING_STEPS, REFUSED_STEPS, STEP_KINDS, step_kind

#: Assay's own kinds with no CBV step: exported under their own name (docs/custody-rules.md)
#: and never captured from EPCIS (a pre-owned intake is recorded by an appraiser's device).
NOT_CBV = {Kind.ERROR_DECLARATION, Kind.INTAKE}  # errorDeclaration is its own field
EXPORTED = [kind for kind in Kind if kind not in NOT_CBV]


@pytest.mark.parametrize("kind", EXPORTED, ids=str)
def test_what_the_export_writes_is_captured_as_the_same_kind(kind: Kind) -> None:
    step = STEP_OF_KIND.get(kind, kind.value)
    assert step in CBV_BIZ_STEPS, f"{kind} is exported as {step!r}, not a CBV business step"
    assert step_kind(step, DISPOSITION_OF_KIND.get(kind)) is kind


def test_the_cbv_steps_are_each_mapped_observed_or_refused_once() -> None:
    mapped, observed, refused = set(STEP_KINDS), set(OBSERVING_STEPS), set(REFUSED_STEPS)
    assert mapped | observed | refused == CBV_BIZ_STEPS
    assert not (mapped & observed or mapped & refused or observed & refused)
    assert "repairing" in mapped and "killing" in refused


def test_assays_own_kinds_are_not_captured_from_a_business_step() -> None:
    assert Kind.INTAKE.value not in CBV_BIZ_STEPS
    assert step_kind(Kind.INTAKE.value, None) is None
