"""ISO 3166-1 alpha-3 country codes, shipped as data so validation needs no network.

Every adapter that validates a nationality or an issuing country uses this one
list. It holds the 249 officially assigned codes only: no ICAO travel-document
extensions (XXA stateless, XXB refugee, UNO, ...), no reserved or withdrawn codes.
"""

from __future__ import annotations

import re
from typing import Final

from g2g_sdk.errors import SchemaError

_CODES: Final = """
ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN
BES BFA BGD BGR BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN
CCK CHE CHL CHN CIV CMR COD COG COK COL COM CPV CRI CUB CUW CXR CYM CYP CZE DEU
DJI DMA DNK DOM DZA ECU EGY ERI ESH ESP EST ETH FIN FJI FLK FRA FRO FSM GAB GBR
GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY HKG HMD HND HRV
HTI HUN IDN IMN IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM
KIR KNA KOR KWT LAO LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA
MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS MWI MYS MYT NAM
NCL NER NFK NGA NIC NIU NLD NOR NPL NRU NZL OMN PAK PAN PCN PER PHL PLW PNG POL
PRI PRK PRT PRY PSE PYF QAT REU ROU RUS RWA SAU SDN SEN SGP SGS SHN SJM SLB SLE
SLV SMR SOM SPM SRB SSD STP SUR SVK SVN SWE SWZ SXM SYC SYR TCA TCD TGO THA TJK
TKL TKM TLS TON TTO TUN TUR TUV TWN TZA UGA UMI UKR URY USA UZB VAT VCT VEN VGB
VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE
"""

ISO_3166_ALPHA3: Final[frozenset[str]] = frozenset(_CODES.split())
"""The officially assigned ISO 3166-1 alpha-3 codes (249)."""

_SHAPE: Final = re.compile(r"[A-Z]{3}")


def is_alpha3(code: str) -> bool:
    """True when `code` has the alpha-3 shape and is an assigned ISO 3166-1 code."""
    return _SHAPE.fullmatch(code) is not None and code in ISO_3166_ALPHA3


def require_assigned(field: str, code: str) -> None:
    """Refuse a well-formed code that is not an assigned ISO 3166-1 alpha-3 code.

    The request schema already checked the shape (``^[A-Z]{3}$``); this catches
    ``XXX``, ``UNO`` and the like with INVALID_ARGUMENT / ``UNKNOWN_COUNTRY``
    naming the field. An empty optional field passes. Country codes are not
    personal data, so the code is quoted.
    """
    if code and code not in ISO_3166_ALPHA3:
        raise SchemaError(
            f"{field}: {code!r} is not an assigned ISO 3166-1 alpha-3 country code",
            reason="UNKNOWN_COUNTRY", metadata={"field": field})
