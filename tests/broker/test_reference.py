"""docs/OPERATIONS.md embeds the configuration and metric reference the code generates."""

from __future__ import annotations

from pathlib import Path

from broker.config import section_fields
from broker.reference import MEANING, config_reference, reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "OPERATIONS.md"
BEGIN = "<!-- BEGIN GENERATED: g2g broker config-reference -->\n"
END = "<!-- END GENERATED -->"


def test_the_operations_doc_embeds_exactly_the_generated_reference() -> None:
    text = DOC.read_text(encoding="utf-8")
    embedded = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    # Regenerate with: g2g broker config-reference (and paste between the markers).
    assert embedded.strip() == reference().strip()


def test_every_accepted_key_is_documented_and_nothing_else() -> None:
    accepted = {f"{section}.{key}" if section else key
                for section, keys in section_fields().items() for key in keys}
    assert set(MEANING) == accepted
    assert config_reference().count("\n| `") == len(accepted)


def test_an_otlp_endpoint_without_the_exporter_installed_is_a_config_error(
        tmp_path: Path) -> None:
    import importlib.util

    import pytest
    from g2g_sdk.errors import ConfigError

    from broker.config import BrokerConfig, Tracing
    from broker.server import _export_spans

    if importlib.util.find_spec("opentelemetry.exporter") is not None:
        pytest.skip("the OTLP exporter is installed here")
    config = BrokerConfig(listen="127.0.0.1:0", instance_id="t", registry=tmp_path,
                          pki_dir=tmp_path, policies=tmp_path, audit=None,  # type: ignore[arg-type]
                          tracing=Tracing(otlp_endpoint="http://127.0.0.1:4317"),
                          source="broker.yaml")
    with pytest.raises(ConfigError, match=r"tracing\.otlp_endpoint.*g2g\[otlp\]"):
        _export_spans(config)
