/*
 * The page's owner panel: after a verified proof (page.js sends "assay:verified"), says who
 * owns the item — by key fingerprint, never a name — and "you are the owner" when this
 * browser holds the owner key the verified history ends with. With an owner endpoint
 * pinned (<meta name="assay-owner-endpoint">) and a claim open, the buyer claims the item
 * with the receipt's code: an Ed25519 key is made once with WebCrypto and kept in this
 * browser (IndexedDB, not extractable), the claim is encoded as an owner_statement,
 * signed, wrapped in a signed_envelope (docs/owner-statements.md) and POSTed.
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

  async function call(path, body) {
    const response = await fetch(endpoint + path, body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(`${answer.error}: ${answer.message}`);
    return answer;
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
    const code = $("claim-code").value.trim();
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
          status.textContent = w.t("owner.recorded", { fingerprint });
          status.dataset.owner = "you";
          $("owner-claim").hidden = true;
          return;
        }
        if (now.version > view.version && !now.claim_open) break; // someone else's claim
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      status.textContent = w.t("owner.refused", { reason: "not recorded" });
    } catch (e) {
      status.textContent = w.t("owner.refused", { reason: String(e.message || e) });
    }
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
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => $("claim").addEventListener("click", claim));
  } else {
    $("claim").addEventListener("click", claim);
  }

  window.AssayOwner = { ownKey, signedEnvelope, state, statementBody };
})();
