/*
 * The page's owner panel: after a verified proof (page.js sends "assay:verified"), says who
 * owns the item — by key fingerprint, never a name — and "you are the owner" when this
 * browser holds the owner key the verified history ends with. With an owner endpoint
 * pinned (<meta name="assay-owner-endpoint">) and a claim open, the buyer claims the item
 * with the receipt's code: an Ed25519 key is made once with WebCrypto and kept in this
 * browser (IndexedDB, not extractable), the claim is encoded as an owner_statement,
 * signed, wrapped in a signed_envelope (docs/owner-statements.md) and POSTed.
 * Once this browser holds the owner key, the panel offers the owner's other statements —
 * report stolen or lost, withdraw the report, transfer (with a new one-time claim code
 * shown once), consign — each signed with that key against the item's current version.
 */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const parts = globalThis.AssayVerifierParts;
  const DB = "assay-owner";
  const STORE = "keys";
  const KEY_ID = "owner-key";
  const STATEMENT_FINGERPRINT = "404ce0a3034b7b59";
  const ENVELOPE_FINGERPRINT = "59961892c1c1d9c7";
  const WAIT_MS = 60000;

  const endpoint = (() => {
    const meta = document.querySelector('meta[name="assay-owner-endpoint"]');
    return meta ? meta.content.trim().replace(/\/$/, "") : "";
  })();
  let current = null; // {itemId, ownership}

  const words = () => new window.AssayI18n.Words(window.AssayI18n.choose());

  // ----- the key kept in this browser ---------------------------------------------------

  function database() {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(DB, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(STORE);
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }

  async function stored(value) {
    const db = await database();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, value === undefined ? "readonly" : "readwrite");
      const request = value === undefined ? tx.objectStore(STORE).get(KEY_ID) : tx.objectStore(STORE).put(value, KEY_ID);
      request.onsuccess = () => resolve(value === undefined ? request.result || null : value);
      request.onerror = () => reject(request.error);
    });
  }

  async function ownKey(create) {
    const kept = await stored();
    if (kept || !create) return kept;
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    return stored({ privateKey: pair.privateKey, publicKeyHex: parts.toHex(raw) });
  }

  // ----- the claim's bytes (Avro single-object encoding) --------------------------------

  function varint(n) {
    let z = BigInt(n) >= 0n ? BigInt(n) << 1n : ((-BigInt(n)) << 1n) - 1n;
    const out = [];
    while (z > 0x7fn) {
      out.push(Number(z & 0x7fn) | 0x80);
      z >>= 7n;
    }
    out.push(Number(z));
    return Uint8Array.from(out);
  }

  const bytesField = (bytes) => parts.concat([varint(bytes.length), bytes]);
  const stringField = (text) => bytesField(parts.utf8.encode(text));
  const optionalString = (text) => (text === null ? varint(0) : parts.concat([varint(1), stringField(text)]));
  const hex = (text) => Uint8Array.from(text.match(/../g).map((h) => parseInt(h, 16)));

  const OPTIONAL = ["claim_code", "claim_salt", "claim_digest", "reason", "consignee"];

  /* An owner_statement v1 body: the fields in schema order, the optional ones by kind. */
  function statementBody(itemId, keyHex, afterVersion, kind, fields) {
    const micros = BigInt(Date.now()) * 1000n;
    return parts.concat([
      Uint8Array.of(0xc3, 0x01), hex(STATEMENT_FINGERPRINT),
      stringField(crypto.randomUUID()), stringField(itemId), stringField(kind), stringField(keyHex),
      varint(afterVersion), varint(micros),
      ...OPTIONAL.map((name) => optionalString(fields && fields[name] !== undefined ? fields[name] : null)),
    ]);
  }

  async function signedEnvelope(key, itemId, afterVersion, kind, fields) {
    const body = statementBody(itemId, key.publicKeyHex, afterVersion, kind, fields);
    const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, body));
    return parts.concat([
      Uint8Array.of(0xc3, 0x01), hex(ENVELOPE_FINGERPRINT),
      stringField(""), stringField(key.publicKeyHex), bytesField(body), bytesField(signature),
    ]);
  }

  // ----- the owner endpoint ---------------------------------------------------------------

  /* An answer the endpoint refused, or no answer: its stable code, for plain words. */
  class Refused extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  async function call(path, body) {
    let response;
    try {
      response = await fetch(endpoint + path, body === undefined ? {} : {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
    } catch (e) {
      throw new Refused("unreachable", String(e.message || e));
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch (e) {
      answer = null;
    }
    if (!response.ok || !answer) {
      throw new Refused((answer && answer.error) || "http_error", (answer && answer.message) || `HTTP ${response.status}`);
    }
    return answer;
  }

  /* An error in the buyer's words: the endpoint's codes each have a sentence. */
  function plain(w, e) {
    const code = e && e.code;
    if (code && w.has(`owner_error.${code}`)) return w.t(`owner_error.${code}`);
    // A statement the ledger's rules refuse (409 from the endpoint): the rule's sentence.
    if (code && w.has(`owner_refusal.${code}`)) return w.t(`owner_refusal.${code}`);
    return w.t("owner_error.other", { reason: String((e && e.message) || e) });
  }

  async function send(key, itemId, afterVersion, kind, fields) {
    const envelope = await signedEnvelope(key, itemId, afterVersion, kind, fields);
    return call("/owner/statements", { envelope_b64: parts.b64encode(envelope) });
  }

  /* A statement by this browser's key about the item (its current version read first). */
  async function state(itemId, kind, fields) {
    const key = await ownKey(false);
    if (!key) throw new Error("this browser holds no owner key");
    const view = await call(`/owner/items/${encodeURIComponent(itemId)}`);
    return send(key, itemId, view.version, kind, fields);
  }

  async function claim() {
    const w = words();
    const status = $("owner-status");
    const code = typedClaimCode($("claim-code").value);
    if (!current || !code) return;
    let key;
    try {
      key = await ownKey(true);
    } catch (e) {
      status.textContent = w.t("owner.unsupported");
      return;
    }
    const fingerprint = await parts.ownerFingerprint(key.publicKeyHex);
    try {
      const view = await call(`/owner/items/${encodeURIComponent(current.itemId)}`);
      await send(key, current.itemId, view.version, "claim", { claim_code: code });
      status.textContent = w.t("owner.sent", { fingerprint });
      const deadline = Date.now() + WAIT_MS;
      while (Date.now() < deadline) {
        const now = await call(`/owner/items/${encodeURIComponent(current.itemId)}`);
        if (now.owner_key === key.publicKeyHex) {
          await render(current.itemId, now);
          status.textContent = w.t("owner.recorded", { fingerprint });
          return;
        }
        if (now.version > view.version && !now.claim_open) break; // someone else's claim
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      status.textContent = w.t("owner.refused", { reason: "not recorded" });
    } catch (e) {
      status.textContent = w.t("owner.refused", { reason: plain(w, e) });
    }
  }


  // ----- the owner's statements after the claim -----------------------------------------

  const BUTTONS = ["report-stolen", "report-lost", "withdraw-report", "transfer", "consign"];
  let busy = false;

  /* Only what the ledger would take now is offered: no transfer, consignment or second
   * report while a report stands, no withdrawal without one (docs/custody-rules.md). */
  function showActions(mine, missing) {
    $("owner-actions").hidden = !mine;
    for (const id of ["report-stolen", "report-lost", "transfer", "consign"]) $(id).hidden = !!missing;
    $("consignee").hidden = !!missing;
    $("consignee").labels.forEach((label) => { label.hidden = !!missing; });
    $("withdraw-report").hidden = !missing;
  }

  /* A one-time claim code as domain/privacy.py new_claim_code writes it: 128 random bits,
   * base32 (RFC 4648, no padding), 26 characters in groups of four joined by "-". */
  const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const CODE_CHARS = 26;
  const SPACE = /[ \t\n\r\f\v]/g;
  const grouped = (chars) => chars.match(/.{1,4}/g).join("-");

  function newClaimCode() {
    const raw = crypto.getRandomValues(new Uint8Array(16));
    let bits = 0n;
    for (const byte of raw) bits = (bits << 8n) | BigInt(byte);
    bits <<= 2n; // 130 bits: 26 characters of 5
    let chars = "";
    for (let i = CODE_CHARS - 1; i >= 0; i--) chars += BASE32[Number((bits >> BigInt(5 * i)) & 31n)];
    return grouped(chars);
  }

  /* The code a buyer meant: domain/privacy.py typed_claim_code's rule (any case, dashes
   * optional, ASCII spaces, 0/1/8 for O/I/B); anything else kept as typed, trimmed. */
  function typedClaimCode(typed) {
    const trimmed = typed.replace(/^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g, "");
    let bare = typed.replace(SPACE, "").replace(/-/g, "");
    if (!/^[\x00-\x7f]*$/.test(bare)) return trimmed;
    bare = bare.toUpperCase().replace(/0/g, "O").replace(/1/g, "I").replace(/8/g, "B");
    if (bare.length !== CODE_CHARS || !/^[A-Z2-7]*$/.test(bare)) return trimmed;
    return grouped(bare);
  }

  /* claim_salt (16 random bytes) and claim_digest = SHA-256(salt ‖ UTF-8(code)), hex. */
  async function commitment(code) {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const digest = await parts.sha256(salt, parts.utf8.encode(code));
    return { claim_salt: parts.toHex(salt), claim_digest: parts.toHex(digest) };
  }

  const ACTIONS = {
    "report-stolen": { kind: "report_missing", confirm: "owner.confirm_stolen", done: (v) => v.missing === "stolen" },
    "report-lost": { kind: "report_missing", confirm: "owner.confirm_lost", done: (v) => v.missing === "lost" },
    "withdraw-report": { kind: "withdraw_report", confirm: null, done: (v) => !v.missing },
    transfer: { kind: "transfer", versioned: true, confirm: "owner.confirm_transfer", done: (v, keyHex) => v.owner_key !== keyHex },
    consign: { kind: "consign", versioned: true, confirm: "owner.confirm_consign", done: (v, keyHex) => v.owner_key !== keyHex },
  };

  /* The ledger's rules the page can see in the item's current view: a statement they refuse
   * is not sent (the ingest would refuse it with this code). */
  function precheck(name, view, keyHex) {
    if (view.owner_key !== keyHex) return "not_owner";
    if (name === "withdraw-report") return view.missing ? null : "not_reported";
    return view.missing ? "reported_missing" : null;
  }

  function confirmed(text) {
    const box = $("owner-confirm");
    const yes = $("owner-confirm-yes");
    const no = $("owner-confirm-no");
    $("owner-confirm-text").textContent = text;
    box.hidden = false;
    yes.focus();
    return new Promise((resolve) => {
      const answer = (value) => () => {
        box.hidden = true;
        yes.onclick = null;
        no.onclick = null;
        resolve(value);
      };
      yes.onclick = answer(true);
      no.onclick = answer(false);
    });
  }

  function setBusy(value) {
    busy = value;
    for (const id of BUTTONS) $(id).disabled = value;
  }

  async function act(name) {
    const action = ACTIONS[name];
    const w = words();
    const progress = $("owner-progress");
    if (!current || busy || !action) return;
    const consignee = $("consignee").value.trim();
    if (name === "consign" && !consignee) {
      progress.textContent = w.t("owner.need_consignee");
      return;
    }
    if (action.confirm && !(await confirmed(w.t(action.confirm, { consignee })))) {
      progress.textContent = w.t("owner.cancelled");
      return;
    }
    setBusy(true);
    try {
      await perform(name, action, consignee, w, progress);
    } catch (e) {
      progress.textContent = w.t("owner.failed", { reason: plain(w, e) });
    } finally {
      setBusy(false);
    }
  }

  async function perform(name, action, consignee, w, progress) {
    const itemId = current.itemId;
    const path = `/owner/items/${encodeURIComponent(itemId)}`;
    const key = await ownKey(false);
    if (!key) throw new Refused("no_key", "this browser holds no owner key");
    progress.textContent = w.t("owner.signing");
    const view = await call(path);
    const refusal = precheck(name, view, key.publicKeyHex);
    if (refusal) {
      progress.textContent = w.t(`owner_refusal.${refusal}`);
      await render(itemId, view);
      return;
    }
    let fields = {};
    let code = null;
    if (name === "report-stolen" || name === "report-lost") fields = { reason: name === "report-lost" ? "lost" : "stolen" };
    if (name === "consign") fields = { consignee };
    if (name === "transfer") {
      code = newClaimCode();
      fields = await commitment(code);
    }
    await send(key, itemId, view.version, action.kind, fields);
    if (code !== null) {
      // Shown as soon as the endpoint took the transfer: after it the old key cannot make
      // another, so a code not shown now would be lost.
      $("new-code").value = code;
      $("owner-new-code").hidden = false;
    }
    progress.textContent = w.t("owner.waiting");
    const deadline = Date.now() + WAIT_MS;
    while (Date.now() < deadline) {
      const now = await call(path);
      if (action.done(now, key.publicKeyHex)) {
        await render(itemId, now);
        progress.textContent = w.t(`owner.done.${name.replace("-", "_")}`, { consignee });
        return;
      }
      if (action.versioned && now.version > view.version) {
        // Something else happened to the item first: a transfer or consignment names the
        // version it saw, so the ledger refuses it (a report is not versioned: keep waiting).
        await render(itemId, now);
        $("new-code").value = "";
        $("owner-new-code").hidden = true;
        progress.textContent = w.t("owner_refusal.stale_statement");
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    progress.textContent = w.t("owner.not_recorded");
  }

  // ----- after each verified proof -------------------------------------------------------

  async function render(itemId, ownership) {
    const w = words();
    const section = $("owner");
    const status = $("owner-status");
    current = { itemId, ownership };
    section.hidden = false;
    let mine = null;
    try {
      mine = await ownKey(false);
    } catch (e) {
      mine = null;
    }
    const lines = [];
    if (ownership.owner_key && mine && mine.publicKeyHex === ownership.owner_key) {
      lines.push(w.t("owner.you", { fingerprint: ownership.owner }));
      status.dataset.owner = "you";
    } else if (ownership.owner) {
      lines.push(w.t("owner.other", { fingerprint: ownership.owner }));
      status.dataset.owner = "other";
    } else {
      lines.push(w.t(ownership.claim_open ? "owner.open" : "owner.none"));
      status.dataset.owner = ownership.claim_open ? "open" : "none";
    }
    if (ownership.missing) lines.push(w.t("owner.missing", { reason: w.t(`reason.${ownership.missing}`) }));
    status.textContent = lines.join(" ");
    $("owner-claim").hidden = !(ownership.claim_open && endpoint && itemId);
    showActions(status.dataset.owner === "you" && endpoint && itemId, ownership.missing);
  }

  document.addEventListener("assay:verified", (event) => {
    const { outcome, itemId } = event.detail;
    const o = outcome.ok ? outcome.result.ownership : null;
    // Only an item with an owner, an open claim or a report has anything to say here.
    if (!o || !(o.owner || o.claim_open || o.missing)) {
      $("owner").hidden = true;
      return;
    }
    render(itemId || outcome.result.item_id, outcome.result.ownership);
  });
  function wire() {
    $("claim").addEventListener("click", claim);
    for (const id of BUTTONS) $(id).addEventListener("click", () => act(id));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();

  window.AssayOwner = {
    commitment, newClaimCode, ownKey, signedEnvelope, state, statementBody, typedClaimCode,
  };
})();
