"""Example third-party adapter: BE/GOV/EMBASSY-JAKARTA verifies Belgian passports.

The whole plugin contract (docs/ADAPTERS.md): a module, named by an entry point
in the ``g2g.adapters`` group, that defines

- ``DATA``: an `AdapterData` (its data sets; none here, the register is fixed), and
- ``build(data)``: ``{agency_id: {service: handler}}``, handlers reading
  ``data.current`` once per request.

It serves two services: one the catalog already knows
(g2g.consular.v1.NationalityVerification/Verify), and its own
(example.embassy.v1.Legalisations/Check, from legalisation.proto, whose generated
module the distribution names in the ``g2g.schemas`` group). The agency, its
endpoint and its service offers are entries in the federation registry, and
policy rules allow the calls.
"""

from __future__ import annotations

from collections.abc import Mapping

from g2g_sdk._gen.g2g.consular.v1 import consular_pb2 as pb
from g2g_sdk.provider import Call, Handler
from google.protobuf import message as pb_message

from agency_adapters.common.datasets import AdapterData, Current
from g2g_example_adapter import legalisation_pb2 as leg

AGENCY_ID = "BE/GOV/EMBASSY-JAKARTA"
VERIFY = "g2g.consular.v1.NationalityVerification/Verify"
CHECK = "example.embassy.v1.Legalisations/Check"
LEGALISED = {"LEG-2026-0001": "2026-03-02"}

# The embassy's (tiny, fixed) passport register: number -> (full name, date of birth).
REGISTER: Mapping[str, tuple[str, str]] = {
    "EL1234567": ("Amélie Peeters", "1988-02-29"),
    "EL7654321": ("Jan Janssens", "1975-11-03"),
}

DATA: AdapterData[Mapping[str, tuple[str, str]]] = AdapterData(
    datasets=(), index=lambda records: REGISTER, generate=lambda size, seed: {},
    default_size=0, default_seed=0)


def verify_handler(data: Current[Mapping[str, tuple[str, str]]]) -> Handler:
    async def verify(request: pb_message.Message, call: Call) -> pb_message.Message:
        assert isinstance(request, pb.PassportVerificationRequest)
        held = data.current.get(request.passport_number)
        if held is None:
            return pb.PassportVerificationResponse(result=pb.VERIFICATION_RESULT_NOT_FOUND)
        mismatched = [name for name, (given, kept) in
                      {"full_name": (request.full_name, held[0]),
                       "date_of_birth": (request.date_of_birth, held[1])}.items()
                      if given != kept]
        return pb.PassportVerificationResponse(
            result=pb.VERIFICATION_RESULT_DATA_MISMATCH if mismatched
            else pb.VERIFICATION_RESULT_VALID, mismatched_fields=mismatched)

    return verify


async def check(request: pb_message.Message, call: Call) -> pb_message.Message:
    assert isinstance(request, leg.LegalisationQuery)
    on = LEGALISED.get(request.reference, "")
    return leg.LegalisationStatus(legalised=bool(on), legalised_on=on)


def build(data: Current[Mapping[str, tuple[str, str]]]) -> Mapping[str, Mapping[str, Handler]]:
    """Handlers of every service BE/GOV/EMBASSY-JAKARTA offers."""
    return {AGENCY_ID: {VERIFY: verify_handler(data), CHECK: check}}
