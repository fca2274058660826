/*
 * Assay verifier: owner-signed events (docs/proof-bundle.md §13, docs/owner-statements.md),
 * a port of anchoring/verify_owner.py. Load after verifier-encodings.js and
 * verifier-chain.js; verifier.js asks parts.isOwnerLeaf and parts.OwnerChain for each event.
 *
 * An owner-signed event is a signed_envelope with an empty party id whose body is an
 * owner_statement; it is checked against the key it names (owner_signature), then against
 * the owner the item's own verified history establishes (owner_chain): a sale opens the
 * claim its claim_digest commits to, a claim must open it, and only the claimed key signs
 * what follows. Owners are shown by fingerprint, never by name.
 */
(function (parts) {
  "use strict";

  const STATEMENT_FINGERPRINT = "404ce0a3034b7b59";
  const KINDS = ["claim", "transfer", "report_missing", "withdraw_report", "consign"];
  const OPTIONAL = ["claim_code", "claim_salt", "claim_digest", "reason", "consignee"];
  const KIND_FIELDS = {
    claim: ["claim_code"], transfer: ["claim_salt", "claim_digest"], report_missing: ["reason"],
    withdraw_report: [], consign: ["consignee"],
  };
  const VERSIONED = ["transfer", "consign"];
  const KEY_HEX = /^[0-9a-f]{64}$/;
  const SALT_HEX = /^(?:[0-9a-f]{2}){16,64}$/;

  const fail = (step, message) => {
    throw new parts.BundleError(step, message);
  };
  /* A refusal of the envelope with the code docs/owner-statements.md gives it. */
  class OwnerEnvelopeError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }
  const refuse = (code, message) => {
    throw new OwnerEnvelopeError(code, message);
  };

  /* Kinds whose rule sets a status (kinds.js): they end the ownership. */
  function statusKinds() {
    const table = globalThis.AssayKinds ? globalThis.AssayKinds.kinds : {};
    return new Set(Object.keys(table).filter((k) => table[k].status !== null));
  }

  function isOwnerLeaf(entry, payload) {
    if (entry.leaf_kind !== "E" || payload.length < 11 || payload[10] !== 0) return false;
    try {
      const envelope = parts.readEnvelope(payload);
      return envelope.body.length >= 10 && parts.toHex(envelope.body.slice(2, 10)) === STATEMENT_FINGERPRINT;
    } catch (e) {
      return false;
    }
  }

  async function fingerprint(keyHex) {
    const digest = parts.toHex(await parts.sha256(hexBytes(keyHex))).slice(0, 16);
    return digest.match(/.{4}/g).join(" ");
  }

  function hexBytes(hex) {
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return out;
  }

  /* OwnerStatement's own checks (domain/owner_statement.py): its primitive form, or a refusal. */
  function statementOf(record) {
    const bad = (m) => refuse("invalid_statement", `owner statement fields are invalid: ${m}`);
    if (!KINDS.includes(record.kind)) bad(`'${record.kind}' is not a kind of owner statement`);
    if (record.reason !== null && record.reason !== "stolen" && record.reason !== "lost") bad(`'${record.reason}' is not a reason`);
    if (!record.statement_id || !record.item_id) bad("statement_id and item_id must not be empty");
    if (!KEY_HEX.test(record.owner_key)) bad("owner_key is 64 lowercase hex digits");
    if (record.after_version < 0n) bad("after_version is a non-negative integer");
    const wanted = KIND_FIELDS[record.kind];
    for (const name of OPTIONAL) {
      const given = record[name] !== null && record[name] !== "";
      if (given && !wanted.includes(name)) bad(`${name} does not belong to a ${record.kind} statement`);
      if (!given && wanted.includes(name)) bad(`a ${record.kind} statement needs ${name}`);
    }
    if (record.kind === "transfer") {
      if (!SALT_HEX.test(record.claim_salt)) bad("claim_salt is 16 to 64 bytes in lowercase hex");
      if (!KEY_HEX.test(record.claim_digest)) bad("claim_digest is 64 lowercase hex digits (SHA-256)");
    }
    const out = {
      statement_id: record.statement_id, item_id: record.item_id, kind: record.kind,
      owner_key: record.owner_key, after_version: Number(record.after_version),
      occurred_at: record.occurred_at,
    };
    for (const name of OPTIONAL) if (record[name] !== null) out[name] = record[name];
    if (Object.values(out).some((v) => typeof v === "string" && v.includes("\u0000"))) {
      refuse("invalid_statement", "a text field of the statement contains NUL (U+0000)");
    }
    return out;
  }

  /* streams.owner_envelope.open_statement with the verification rules of §4.8. */
  async function openStatement(payload) {
    let envelope;
    try {
      envelope = parts.readEnvelope(payload);
    } catch (e) {
      if (e instanceof parts.AvroError) refuse("malformed_body", e.message);
      throw e;
    }
    if (envelope.party_id !== "") refuse("envelope_mismatch", "an owner statement's envelope names no party");
    if (!KEY_HEX.test(envelope.device_id)) refuse("invalid_owner_key", "an owner key is 64 lowercase hex digits");
    const key = hexBytes(envelope.device_id);
    const problem = parts.publicKeyProblem(key);
    if (problem !== null) refuse("invalid_owner_key", `not a usable Ed25519 owner key: ${problem}`);
    if (!(await parts.ed25519Verify(key, envelope.body, envelope.signature))) {
      refuse("bad_signature", "the owner statement's signature does not verify with the key it names");
    }
    let record;
    try {
      record = parts.avroDecode("owner_statement", envelope.body);
    } catch (e) {
      if (e instanceof parts.AvroError) refuse("invalid_statement", e.message);
      throw e;
    }
    const statement = statementOf(record);
    if (statement.owner_key !== envelope.device_id) refuse("envelope_mismatch", "body and envelope name different owner keys");
    return statement;
  }

  /* anchoring.verify_owner.OwnerChain: the ownership, folded over the verified events. */
  class OwnerChain {
    constructor() {
      this.owner = null;
      this.since = null;
      this.open = null;
      this.missing = null;
      this.salts = new Map();
      this.statusKinds = statusKinds();
    }

    noteCustody(summary) {
      const kind = summary.kind;
      if (Object.prototype.hasOwnProperty.call(summary, "flag") || typeof kind !== "string" || !this.statusKinds.has(kind)) return;
      this.owner = null;
      this.missing = null;
      const digest = summary.claim_digest;
      this.open = kind === "retail_selling" && typeof digest === "string" ? digest : null;
      if (this.open !== null && typeof summary.claim_salt === "string" && !this.salts.has(this.open)) {
        this.salts.set(this.open, summary.claim_salt);
      }
    }

    async check(entry, payload, itemId, version) {
      let s;
      try {
        s = await openStatement(payload);
      } catch (e) {
        if (!(e instanceof OwnerEnvelopeError)) throw e;
        const why = `owner statement: ${e.code}: ${e.message}`;
        if (e.code === "bad_signature" || e.code === "invalid_owner_key") fail("owner_signature", why);
        fail("envelope_format", why);
      }
      if (s.item_id !== itemId) fail("item_mismatch", `the owner statement is about '${s.item_id}'`);
      const signer = await fingerprint(s.owner_key);
      await this.follow(s, version, signer);
      const summary = { ...s, owner_statement: true, signer };
      if (!parts.sameJson(entry.summary, summary)) fail("summary_mismatch", "the summary differs from the signed owner statement");
      return { summary, owner: true, device: null, keySource: null };
    }

    async follow(s, version, signer) {
      if (VERSIONED.includes(s.kind) && s.after_version !== version - 1) {
        fail("owner_chain", `the ${s.kind} follows version ${s.after_version}, not ${version - 1}`);
      }
      if (s.after_version > version - 1) fail("owner_chain", `the ${s.kind} names version ${s.after_version}, not yet recorded`);
      if (s.kind === "claim") {
        const salt = this.open === null ? undefined : this.salts.get(this.open);
        const opens = salt !== undefined &&
          parts.toHex(await parts.sha256(hexBytes(salt), parts.utf8.encode(s.claim_code))) === this.open;
        if (!opens) fail("owner_chain", "the claim does not open the item's open claim commitment");
        [this.owner, this.open, this.missing, this.since] = [s.owner_key, null, null, s.occurred_at];
        return;
      }
      if (this.owner === null || this.owner !== s.owner_key) {
        fail("owner_chain", `the ${s.kind} is signed by ${signer}, not the owner key`);
      }
      if (s.kind === "transfer") {
        if (this.salts.has(s.claim_digest)) fail("owner_chain", "the transfer names a claim commitment used before");
        this.salts.set(s.claim_digest, s.claim_salt);
        [this.owner, this.open, this.missing] = [null, s.claim_digest, null];
      } else if (s.kind === "report_missing") {
        this.missing = s.reason;
      } else if (s.kind === "withdraw_report") {
        this.missing = null;
      } else {
        [this.owner, this.open, this.missing] = [null, null, null];
      }
    }

    async current() {
      return {
        owner_key: this.owner,
        owner: this.owner === null ? null : await fingerprint(this.owner),
        since: this.owner === null ? null : this.since,
        missing: this.missing,
        claim_open: this.open !== null,
      };
    }
  }

  Object.assign(parts, { OwnerChain, isOwnerLeaf, ownerFingerprint: fingerprint, openOwnerStatement: openStatement, OwnerEnvelopeError });
})((globalThis.AssayVerifierParts = globalThis.AssayVerifierParts || {}));
