"""What a deployment pins into the page (server/pinning.py) and how the page is served.

`assay serve --pinned-key FILE --witness-policy FILE` (or the settings page_pinned_key,
page_witness_policy) put the platform key and the witness policy into the page's meta
elements, checked at start: a broken key or policy stops the server with a clear error
rather than serving a page that refuses every item.
"""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from anchoring.checkpoint import Signer, Verifier
from assay.cli import main
from assay.settings import Settings, SettingsError, load_settings
from server.app import STATIC, create_app
from server.pinning import Pins, load_pins, pin_page
from tests.server.conftest import STATIC as STATIC_DIR
from witness.cosignature import WitnessSigner

KEY = Verifier(
    (s := Signer.generate("assay.example/custody-log")).name, s.public_key
).to_text()  # fmt: skip


def _policy() -> str:
    witness = WitnessSigner.generate("aurel.example/witness").verifier().to_text()
    return (
        '# Maison Aurel\'s policy: one partner, "for now" & <always>\n'
        f"log {KEY}\nwitness aurel {witness}\nquorum aurel\n"
    )


class _Metas(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.metas: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "meta" and found.get("name"):
            self.metas[str(found["name"])] = found.get("content") or ""


def _metas(page: bytes) -> dict[str, str]:
    parser = _Metas()
    parser.feed(page.decode())
    return parser.metas


def _settings(tmp_path: Path, key: str = "", policy: str = "") -> Settings:
    def write(name: str, text: str) -> str:
        if not text:
            return ""
        (tmp_path / name).write_text(text)
        return str(tmp_path / name)

    return Settings(
        data_dir=tmp_path / "assay-data",
        page_pinned_key=write("platform.pub", key),
        page_witness_policy=write("policy.txt", policy),
    )


def test_the_pins_go_into_the_metas_exactly() -> None:
    page = (STATIC_DIR / "verifier.html").read_bytes()
    assert _metas(page)["assay-pinned-key"] == "" and _metas(page)["assay-witness-policy"] == ""
    policy = _policy()
    metas = _metas(pin_page(page, Pins(KEY, policy)))
    assert metas["assay-pinned-key"] == KEY
    assert metas["assay-witness-policy"] == policy  # quotes, & and < survive the escaping
    assert _metas(pin_page(page, Pins())) == _metas(page)
    with pytest.raises(ValueError, match="assay-pinned-key"):
        pin_page(b"<html></html>", Pins(KEY))


def test_load_pins_reads_and_checks_the_files(tmp_path: Path) -> None:
    assert load_pins(_settings(tmp_path)) == Pins()
    policy = _policy()
    assert load_pins(_settings(tmp_path, KEY + "\n", policy)) == Pins(KEY, policy)


@pytest.mark.parametrize(
    ("key", "policy", "error"),
    [("not a key", "", "page_pinned_key.*not a verifier key"),
     (KEY[:-4] + "AAAA", "", "page_pinned_key"),
     ("", "quorum nobody\n", "page_witness_policy.*line 1"),
     ("", "log x\n", "page_witness_policy")],
    # Fixed ids: KEY is random, and pytest-xdist's workers must collect the same names.
    ids=["not-a-key", "a-corrupted-key", "an-unknown-quorum-witness", "a-malformed-log-line"],
)  # fmt: skip
def test_a_broken_pin_is_refused_with_the_reason(
    tmp_path: Path, key: str, policy: str, error: str
) -> None:
    with pytest.raises(SettingsError, match=error):
        load_pins(_settings(tmp_path, key, policy))


def test_unreadable_pin_files_are_refused(tmp_path: Path) -> None:
    missing = dataclasses.replace(_settings(tmp_path), page_pinned_key=str(tmp_path / "no.pub"))
    with pytest.raises(SettingsError, match="cannot read"):
        load_pins(missing)
    (tmp_path / "latin1.txt").write_bytes(b"# caf\xe9\n")
    latin1 = dataclasses.replace(
        _settings(tmp_path), page_witness_policy=str(tmp_path / "latin1.txt")
    )
    with pytest.raises(SettingsError, match="not UTF-8"):
        load_pins(latin1)


def test_the_settings_come_from_the_environment() -> None:
    env = {"ASSAY_PAGE_PINNED_KEY": "/k.pub", "ASSAY_PAGE_WITNESS_POLICY": "/p.txt"}
    settings = load_settings(env)
    assert (settings.page_pinned_key, settings.page_witness_policy) == ("/k.pub", "/p.txt")


def test_the_served_page_pins_and_allows_its_manifest_and_worker(tmp_path: Path) -> None:
    policy = _policy()
    with TestClient(create_app(_settings(tmp_path, KEY, policy))) as client:
        for path in ("/", "/verify"):
            page = client.get(path)
            metas = _metas(page.content)
            assert (metas["assay-pinned-key"], metas["assay-witness-policy"]) == (KEY, policy)
            csp = page.headers["content-security-policy"]
            assert "manifest-src 'self'" in csp and "worker-src 'self'" in csp
            assert "default-src 'none'" in csp and "script-src 'self'" in csp
        for name, kind in STATIC.items():
            asset = client.get(f"/{name}" if name != "verifier.html" else "/")
            assert asset.status_code == 200, name
            assert asset.headers["content-type"].startswith(kind.split(";")[0]), name
        scripts = {n for n in STATIC if n.endswith(".js")}
        html = client.get("/").text
        assert {n for n in scripts if n != "sw.js"} <= {
            n for n in scripts if f'src="{n}"' in html
        }, "a script the page needs is not loaded by it"
        sw = client.get("/sw.js").text
        shell = {n for n in STATIC if n not in ("verifier.html", "sw.js")}
        assert all(f'"{n}"' in sw for n in shell), "the offline copy misses a file"


def test_serve_refuses_a_broken_pin_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.pub"
    bad.write_text("PRIVATE+KEY+oops\n")
    code = main(["--data-dir", str(tmp_path / "d"), "serve", "--pinned-key", str(bad)])
    assert code == 2
    err = capsys.readouterr().err
    assert "page_pinned_key" in err and "not a verifier key" in err and "Traceback" not in err


def test_assay_page_writes_the_pinned_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "platform.pub"
    key.write_text(KEY + "\n")
    out = tmp_path / "site"
    assert main(["--data-dir", str(tmp_path / "d"), "page", "--out", str(out),
                 "--pinned-key", str(key)]) == 0  # fmt: skip
    assert "key pinned" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == sorted(STATIC)
    metas = _metas((out / "verifier.html").read_bytes())
    assert (metas["assay-pinned-key"], metas["assay-witness-policy"]) == (KEY, "")
    assert (out / "page.js").read_bytes() == (STATIC_DIR / "page.js").read_bytes()
    bad = tmp_path / "policy.txt"
    bad.write_text("quorum nobody\n")
    assert main(["page", "--out", str(out), "--witness-policy", str(bad)]) == 2
