"""The page's catalogues (server/static/i18n-<lang>.js): one per language, all complete.

Fails on a key missing from any catalogue, on a placeholder a translation lost or
invented, on a custody kind, counterfeit signal, status, verdict or retirement reason
without words, and on a key the page's HTML or scripts use that no catalogue defines.
"""

from __future__ import annotations

import re

import pytest

from domain.custody import ErrorReason, RetirementReason, Verdict
from domain.kinds import Kind, Status
from domain.signals import Signal
from tests.server.conftest import STATIC
from tests.server.pages import catalogue

LANGS = ("en", "zh-Hans", "ja")
SCRIPTS = ("page.js", "page-render.js", "passport.js", "i18n.js", "page-owner.js")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


@pytest.mark.parametrize("lang", LANGS)
def test_every_catalogue_has_every_key_with_the_same_placeholders(lang: str) -> None:
    en, other = catalogue("en"), catalogue(lang)
    assert sorted(set(en) - set(other)) == [], f"missing from {lang}"
    assert sorted(set(other) - set(en)) == [], f"only in {lang}"
    for key, text in other.items():
        assert text.strip(), f"{lang}: {key} is empty"
        assert _placeholders(text) == _placeholders(en[key]), f"{lang}: {key}"


def test_plural_forms_come_in_pairs() -> None:
    en = catalogue("en")
    for key in en:
        if key.endswith(".one"):
            assert key[: -len("one")] + "other" in en, key


@pytest.mark.parametrize("lang", LANGS)
def test_every_domain_value_has_words(lang: str) -> None:
    words = catalogue(lang)
    wanted = [f"event.{k.value}" for k in Kind]
    wanted += [f"flag.{s.value}" for s in Signal]
    wanted += [f"status.{s.value}" for s in Status]
    wanted += [f"verdict_value.{v.value}" for v in Verdict]
    wanted += [f"reason.{r.value}" for r in RetirementReason]
    wanted += [f"retired.{r.value}" for r in RetirementReason]
    wanted += [f"error_reason.{r.value}" for r in ErrorReason]
    assert [key for key in wanted if key not in words] == []


def test_no_event_sentence_can_show_a_buyer_reference() -> None:
    for lang in LANGS:
        assert all("buyer" not in key for key in _placeholders(" ".join(catalogue(lang).values())))
    for script in SCRIPTS:
        assert "buyer_ref" not in (STATIC / script).read_text(encoding="utf-8"), script


def _used_keys() -> set[str]:
    """Keys the HTML and the scripts name literally, and those they build from a name."""
    html = (STATIC / "verifier.html").read_text(encoding="utf-8")
    keys = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    code = "\n".join((STATIC / s).read_text(encoding="utf-8") for s in SCRIPTS)
    keys |= set(re.findall(r"""\bt\(\s*["']([a-z_]+(?:\.[a-z_]+)+)["']""", code))
    keys |= set(re.findall(r"""status\("[a-z-]+", "([a-z_.]+)\"""", code))
    # `verdict.${state}` for every state the model raises or a notice names, `line.${state}`
    # for notices, `key.${source}` for every key source.
    states = set(re.findall(r"""raise\("([a-z_]+)\"""", code))
    states |= set(re.findall(r"""state: "([a-z_]+)\"""", code))
    states |= set(re.findall(r"""(?:state|tone) === "([a-z_]+)\"""", code)) & {"stale"}
    keys |= {f"verdict.{s}" for s in states | {"genuine", "inconclusive", "registered", "failed"}}
    sources = set(re.findall(r"""source: "([a-z]+)\"""", code)) | {"deployment", "none"}
    keys |= {f"key.{s}" for s in sources}
    return keys


def test_every_key_the_page_uses_is_in_the_catalogues() -> None:
    used = _used_keys()
    assert {"verdict.flagged", "verdict.no_record", "key.tofu", "manual.loaded"} <= used
    en = catalogue("en")
    assert sorted(k for k in used if k not in en and f"{k}.other" not in en) == []


def test_the_page_has_no_words_outside_the_catalogues() -> None:
    """Every element of the page that shows text takes it from a catalogue key."""
    html = (STATIC / "verifier.html").read_text(encoding="utf-8")
    body = html[html.index("<body>") : html.index("</body>")]
    texts = [t.strip() for t in re.findall(r">([^<]+)<", body)]
    assert [t for t in texts if t] == []
