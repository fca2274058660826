/*
 * Assay verifier, last part (load verifier-encodings.js, verifier-chain.js, verifier-map.js
 * and verifier-registry.js first): checks an assay-proof-bundle (version 1 to 5) or an
 * assay-absence bundle in the browser, trusting only a pinned platform key. Version 1 is a
 * line-by-line port of anchoring/verify.py; what version 2 adds (verifier-map.js) is
 * written from docs/proof-bundle.md §10. Both fail with the reference's step codes
 * (docs/verifier.md; tests/server compare the two on every test vector). Hashing and
 * signatures use WebCrypto (SHA-256, Ed25519); nothing is loaded from the network. Works
 * from file:// as well as when served.
 *
 * Input: the bundle is read as strict JSON (parseStrictJson, docs/proof-bundle.md §2.1),
 * in which numbers written with a fraction or exponent are floats, as in Python, so `1.0`
 * is not an integer field here either.
 */
(function (global, parts) {
  "use strict";

  const {
    AvroError, BundleError, JsonError, MAX_INT, avroDecode, b64decode, b64encode, blockHash,
    bytesEqual, checkComplete, checkFresh, checkHeadMap, checkNewer, checkpointAndHead, ed25519Verify, has,
    hex32Field, isDict, isInt, isStr, laxHex, leafOf, openCheckpoint, parseDeviceKeys,
    parseHeader, parseStrictJson, parseVerifierKey, pyCompare, publicKeyProblem, readEnvelope,
    sameJson, sha256, strictHex32, toHex, utf8, verifyAbsence, verifyAccInclusion,
    verifyInclusion,
  } = parts;
  const BUNDLE_FORMAT = "assay-proof-bundle";
  const ABSENCE_FORMAT = "assay-absence";
  const BUNDLE_VERSIONS = [1, 2, 3, 4, 5];

  // ----- verify_bundle (anchoring/verify.py, docs/proof-bundle.md) ---------------------

  const fail = (step, message, version) => {
    throw new BundleError(step, message, version);
  };

  const TOP_LEVEL = { item_id: isStr, checkpoint: isStr, head: isDict, blocks: Array.isArray,
    events: Array.isArray, devices: isDict, pending: Array.isArray };
  const EVENT_FIELDS = { version: isInt, leaf_kind: isStr, payload_b64: isStr,
    evidence_b64: (v) => v === null || isStr(v), prev_leaf: isStr, leaf: isStr, height: isInt,
    leaf_index: isInt, path: Array.isArray, summary: isDict };

  function checkFields(obj, spec, where) {
    if (!isDict(obj)) fail("bundle_format", `${where} must be a JSON object`);
    for (const [name, ok] of Object.entries(spec)) {
      if (!has(obj, name)) fail("bundle_format", `${where} has no field '${name}'`);
      const value = obj[name];
      if (!ok(value)) fail("bundle_format", `${where}: '${name}' has the wrong type`);
      if (isInt(value) && !(value >= 0 && value <= MAX_INT)) fail("bundle_format", `${where}: '${name}' is outside 0..2**53-1`);
    }
  }

  const TOP_LEVEL_V2 = { map_entry: isDict, map_proof: isDict };
  const TOP_LEVEL_V3 = { head_proof: Array.isArray };

  function checkTopLevel(bundle) {
    // An integer 1 to 5: not 1.0 (a Number object here) nor true, which Python's == equates.
    if (!has(bundle, "format") || bundle.format !== BUNDLE_FORMAT ||
        !has(bundle, "version") || !isInt(bundle.version) || !BUNDLE_VERSIONS.includes(bundle.version)) {
      fail("bundle_format", `not an ${BUNDLE_FORMAT} version 1, 2, 3, 4 or 5 document`);
    }
    checkFields(bundle, TOP_LEVEL, "bundle");
    if (bundle.version >= 3) checkFields(bundle, TOP_LEVEL_V3, "bundle");
    if (bundle.version >= 4) checkFields(bundle, { registry: isDict }, "bundle");
    if (bundle.version !== 1) {
      checkFields(bundle, TOP_LEVEL_V2, "bundle");
      if (has(bundle, "newer") && !isDict(bundle.newer)) fail("bundle_format", "bundle: 'newer' must be a JSON object");
    }
    if (!bundle.item_id) fail("bundle_format", "item_id is empty");
    if (!bundle.events.length) fail("bundle_format", "the bundle proves no event");
  }

  function checkEntryFields(entry, expected) {
    checkFields(entry, EVENT_FIELDS, `event #${expected}`);
    const version = entry.version;
    if (version !== expected) fail("history_gap", `expected version ${expected}, found ${version}`, version);
    if (entry.leaf_kind !== "E" && entry.leaf_kind !== "P") fail("bundle_format", `unknown leaf kind '${entry.leaf_kind}'`, version);
    if (entry.leaf_kind === "E" && entry.evidence_b64 !== null) fail("bundle_format", "an envelope event carries no evidence", version);
    return version;
  }

  function checkPending(pending, anchored) {
    pending.forEach((entry, i) => {
      const offset = i + 1;
      checkFields(entry, { version: isInt, summary: isDict }, `pending #${offset}`);
      if (entry.version !== anchored + offset) fail("bundle_format", `pending #${offset} is not version ${anchored + offset}`);
    });
  }

  /* Re-raise a lower-level failure under the same step, its message prefixed. */
  async function within(prefix, check) {
    try {
      return await check();
    } catch (e) {
      if (e instanceof BundleError) fail(e.step, `${prefix}: ${e.message}`);
      throw e;
    }
  }

  async function checkBlocks(entries, head) {
    const blocks = new Map();
    const headHash = await blockHash(head);
    for (const [position, entry] of entries.entries()) {
      const where = `blocks[${position}]`;
      checkFields(entry, { header: isDict, acc_proof: Array.isArray }, where);
      const header = await within(`${where} header`, () => parseHeader(entry.header));
      if (blocks.size && header.height <= Math.max(...blocks.keys())) {
        fail("bundle_format", `${where}: blocks must be in strictly ascending height`);
      }
      const proof = entry.acc_proof.map((p) => hex32Field(p, `${where} acc_proof`));
      const hash = await blockHash(header);
      if (header.height > head.height) fail("block_link", `block ${header.height} is newer than the head ${head.height}`);
      if (header.height === head.height) {
        if (proof.length) fail("bundle_format", `${where}: the head block takes an empty acc_proof`);
        if (!bytesEqual(hash, headHash)) fail("block_link", `block ${header.height} is not the head block`);
      } else {
        await within(`block ${header.height}`,
          () => verifyAccInclusion(hash, header.height, head.acc_size, proof, laxHex(head.acc_root)));
      }
      blocks.set(header.height, header);
    }
    return blocks;
  }

  function payloadOf(value, what) {
    const raw = b64decode(value);
    if (raw === null) fail("bundle_format", `${what} is not base64`);
    if (b64encode(raw) !== value) fail("bundle_format", `${what} is not canonical base64`);
    return raw;
  }

  async function checkAnchoring(entry, payload, itemId, prev, blocks) {
    const header = blocks.get(entry.height);
    if (header === undefined) fail("block_link", `block ${entry.height} is not in the bundle`);
    const leaf = hex32Field(entry.leaf, "leaf");
    await within(`block ${header.height}`,
      () => verifyInclusion(leaf, entry.leaf_index, header.leaf_count, entry.path, laxHex(header.merkle_root)));
    if (!bytesEqual(hex32Field(entry.prev_leaf, "prev_leaf"), prev)) fail("item_chain", "prev_leaf is not the previous event's leaf");
    if (!bytesEqual(await leafOf(itemId, entry.version, entry.leaf_kind, payload, prev), leaf)) {
      fail("leaf_hash", "the leaf does not recompute from the event's bytes");
    }
    return { leaf, header };
  }

  /* Device public keys: pinned ones first, else those the bundle lists. */
  class Keys {
    constructor(listed, pinned) {
      this.listed = listed;
      this.pinned = pinned || {};
      this.used = new Map();
    }

    publicKey(device) {
      if (!this.used.has(device)) this.used.set(device, this.lookUp(device));
      return this.used.get(device).key;
    }

    lookUp(device) {
      let key;
      let source = "pinned";
      if (has(this.pinned, device)) {
        key = this.pinned[device];
      } else {
        const entry = has(this.listed, device) ? this.listed[device] : null;
        if (!isDict(entry) || !has(entry, "public_key") || !isStr(entry.public_key)) fail("device_key", `no public key for device ${device}`);
        key = strictHex32(entry.public_key);
        if (key === null) fail("device_key", `public key of ${device} is not 64 lowercase hex`);
        source = "listed";
      }
      // 32 bytes, canonical, not of small order (docs/proof-bundle.md §4.8)
      const problem = publicKeyProblem(key);
      if (problem !== null) fail("device_key", `${source} key of ${device}: ${problem}`);
      return { key, source };
    }

    source(device) {
      return this.used.get(device).source;
    }
  }

  /* What a summary shows of a signed custody event: the set fields, maps sorted, no empty array. */
  function signedFields(record) {
    const out = {};
    for (const [name, value] of Object.entries(record)) {
      if (Array.isArray(value) && value.length === 0) continue;
      if (value === null || (isDict(value) && !(value instanceof Uint8Array) && Object.keys(value).length === 0)) continue;
      if (isDict(value) && !(value instanceof Uint8Array)) {
        const sorted = Object.create(null);
        for (const k of Object.keys(value).sort(pyCompare)) sorted[k] = value[k];
        out[name] = sorted;
      } else {
        out[name] = value;
      }
    }
    return out;
  }

  async function signedBody(message, keys, what) {
    let envelope;
    try {
      envelope = readEnvelope(message);
    } catch (e) {
      if (e instanceof AvroError) fail("envelope_format", `${what}: ${e.message}`);
      throw e;
    }
    const device = `${envelope.party_id}/${envelope.device_id}`;
    const key = keys.publicKey(device);
    if (!(await ed25519Verify(key, envelope.body, envelope.signature))) {
      fail("device_signature", `${what}: the signature of device ${device} does not verify`);
    }
    let body;
    try {
      body = avroDecode("custody_event", envelope.body);
    } catch (e) {
      if (e instanceof AvroError) fail("envelope_format", `${what} body: ${e.message}`);
      throw e;
    }
    if (body.party_id !== envelope.party_id || body.device_id !== envelope.device_id) {
      fail("envelope_device", `${what} is labelled ${device}, its body names another device`);
    }
    return { body, device, keySource: keys.source(device) };
  }

  const PLATFORM_BODY_KEYS = ["detail", "evidence_event_id", "evidence_sha256", "signal", "type"];

  /* json.dumps(flag, sort_keys=True, separators=(",", ":"), ensure_ascii=False) */
  function canonicalFlag(flag) {
    return "{" + PLATFORM_BODY_KEYS.map((k) => `${JSON.stringify(k)}:${JSON.stringify(flag[k])}`).join(",") + "}";
  }

  function platformBody(payload) {
    let flag;
    try {
      flag = parseStrictJson(payload);
    } catch (e) {
      if (e instanceof JsonError) fail("platform_body", `the platform record is not strict JSON: ${e.message}`);
      throw e;
    }
    const keys = isDict(flag) ? Object.keys(flag).sort(pyCompare) : [];
    const ok = isDict(flag) && keys.length === PLATFORM_BODY_KEYS.length &&
      keys.every((k, i) => k === PLATFORM_BODY_KEYS[i]) &&
      flag.type === "flag" && isStr(flag.signal) && isStr(flag.detail) &&
      (flag.evidence_event_id === null || isStr(flag.evidence_event_id)) &&
      (flag.evidence_sha256 === null || strictHex32(flag.evidence_sha256) !== null) &&
      bytesEqual(utf8.encode(canonicalFlag(flag)), payload);
    if (!ok) fail("platform_body", "the platform record is not a canonical flag object");
    return flag;
  }

  async function evidenceOf(flag, evidenceB64, keys) {
    const committed = flag.evidence_sha256;
    if (committed === null) {
      if (evidenceB64 !== null) fail("bundle_format", "evidence given for a flag that commits to none");
      return null;
    }
    if (evidenceB64 === null) fail("bundle_format", "the flag commits to evidence the bundle does not carry");
    const evidence = payloadOf(evidenceB64, "evidence_b64");
    if (toHex(await sha256(evidence)) !== committed) fail("evidence_hash", "the evidence envelope is not the one the flag commits to");
    const signed = await signedBody(evidence, keys, "evidence");
    if (signed.body.event_id !== flag.evidence_event_id) fail("evidence_mismatch", `the evidence is event '${signed.body.event_id}'`);
    return signed;
  }

  async function checkContent(entry, payload, itemId, keys) {
    let summary;
    let seen;
    if (entry.leaf_kind === "E") {
      seen = await signedBody(payload, keys, "envelope");
      if (seen.body.item_id !== itemId) fail("item_mismatch", `the signed event is about '${seen.body.item_id}'`);
      summary = signedFields(seen.body);
    } else {
      const flag = platformBody(payload);
      const evidence = await evidenceOf(flag, entry.evidence_b64, keys);
      summary = { flag: flag.signal, detail: flag.detail };
      if (evidence !== null) summary.evidence = signedFields(evidence.body);
      seen = { flag, device: evidence && evidence.device, keySource: evidence && evidence.keySource };
    }
    if (!sameJson(entry.summary, summary)) fail("summary_mismatch", "the summary differs from the signed content");
    return { summary, ...seen };
  }

  /*
   * verify_bundle(bundle, platform_key, device_keys, origin=...). Resolves to the verified
   * result; rejects with a BundleError naming the step (and the event's version).
   * ``progress.events`` receives each event that passed, so a caller can show how far the
   * check got before a failure.
   */
  async function verifyBundle(bundle, platformKey, deviceKeys, options, progress) {
    const done = progress || { events: [] };
    const origin = (options && options.origin) || null;
    if (!isDict(bundle)) fail("bundle_format", "a bundle is a JSON object");
    // docs/proof-bundle.md §10.6: the format names the kind of document.
    if (has(bundle, "format") && bundle.format === ABSENCE_FORMAT) return verifyAbsence(bundle, platformKey, options);
    checkTopLevel(bundle);
    const { checkpoint, head } = await checkpointAndHead(bundle, platformKey, origin, ""); // B3–B5, 5a
    const complete = bundle.version !== 1; // versions 2 on carry the head map
    const mapped = complete ? await checkHeadMap(bundle, head) : null; // steps 5a–5c
    // Step 5d (versions 4 and 5, verifier-registry.js): the parties and device keys, proven.
    const registry = bundle.version >= 4 ? await parts.checkRegistry(bundle, head) : null;
    const blocks = await checkBlocks(bundle.blocks, head);
    const keys = registry ? registry.keys(deviceKeys) : new Keys(bundle.devices, deviceKeys);
    const itemId = bundle.item_id;
    let prev = new Uint8Array(32);
    const owners = parts.OwnerChain ? new parts.OwnerChain() : null; // verifier-owner.js
    for (const [i, entry] of bundle.events.entries()) {
      const version = checkEntryFields(entry, i + 1);
      try {
        const payload = payloadOf(entry.payload_b64, "payload_b64");
        const anchored = await checkAnchoring(entry, payload, itemId, prev, blocks);
        const owned = owners !== null && parts.isOwnerLeaf(entry, payload);
        const content = owned ? await owners.check(entry, payload, itemId, version)
          : await checkContent(entry, payload, itemId, keys);
        if (owners !== null && !owned) owners.noteCustody(content.summary);
        if (registry && entry.leaf_kind === "E" && !owned) registry.checkWindow(content.summary); // D17a
        prev = anchored.leaf;
        done.events.push({ version, kind: entry.leaf_kind, height: anchored.header.height,
          leafIndex: entry.leaf_index, sealedAt: anchored.header.sealed_at, ...content });
      } catch (e) {
        if (e instanceof BundleError && e.version === null) fail(e.step, e.message, version);
        throw e;
      }
    }
    checkPending(bundle.pending, bundle.events.length);
    let latest = { checkpoint, head };
    if (complete) {
      checkComplete(mapped.entry, bundle.events); // F20
      if (has(bundle, "newer")) latest = await checkNewer(bundle.newer, head, mapped.key, mapped.entry, platformKey, origin, bundle.version); // G21
    }
    checkFresh(latest.head, options); // H22, last: a tampered stale bundle fails as tampered
    const result = {
      item_id: itemId,
      origin: checkpoint.origin,
      checkpoint_size: latest.checkpoint.size,
      checkpoint_time: latest.head.sealed_at,
      bundle_version: bundle.version,
      completeness: complete ? "complete" : "inclusion_only",
      absent: false,
      events: bundle.events.length,
      pending: bundle.pending,
      story: done.events,
      declared_in_error: declaredInError(done.events.map((e) => e.summary)),
      ownership: owners !== null ? await owners.current() : null,
      // Only proven names (version 4); earlier versions have none, and a page shows ids.
      ...(registry ? { parties: registry.parties } : {}),
    };
    // The owner by key fingerprint, never a name (passport.js shows it as a fact).
    if (result.ownership && result.ownership.owner) result.owner = { fingerprint: result.ownership.owner, since: result.ownership.since };
    return result;
  }

  /*
   * anchoring/declarations.py (docs/proof-bundle.md §4.9): the verified E events declared in
   * error by a later verified event of kind error_declaration naming their event_id.
   */
  function declaredInError(summaries) {
    const earlier = new Map();
    const out = [];
    summaries.forEach((s, i) => {
      if (has(s, "flag")) return;
      const declared = s.declared_event_id;
      if (s.kind === "error_declaration" && isStr(declared)) {
        const found = earlier.get(declared);
        if (found) {
          const [version, original] = found;
          out.push({
            version, event_id: original.event_id, kind: has(original, "kind") ? original.kind : null,
            by: has(s, "party_id") ? s.party_id : null, at: has(s, "occurred_at") ? s.occurred_at : null,
            reason: has(s, "error_reason") ? s.error_reason : null,
            corrective_event_ids: [...(s.corrective_event_ids || [])], declaration_version: i + 1,
          });
        }
        return;
      }
      if (isStr(s.event_id) && !earlier.has(s.event_id)) earlier.set(s.event_id, [i + 1, s]);
    });
    return out;
  }

  /* verify.read_bundle: the bundle as strict JSON reads it (text, or the bytes as they came). */
  function readBundle(input) {
    try {
      return parseStrictJson(input);
    } catch (e) {
      if (e instanceof JsonError) fail("bundle_format", `the bundle is not strict JSON: ${e.message}`);
      throw e;
    }
  }

  /*
   * One call for the page, tests and tools: texts in, a plain outcome out, timed with
   * performance.now() from reading the key to the verdict. ``bundleInput`` is the bundle's
   * text or, better, its bytes as they came (Uint8Array or ArrayBuffer: a file, a
   * response body), so that a byte-order mark or invalid UTF-8 is refused too.
   */
  async function verifyText(bundleInput, keyText, deviceKeysText, options) {
    const progress = { events: [] };
    const began = performance.now();
    try {
      const key = await parseVerifierKey(String(keyText).trim());
      const devices = parseDeviceKeys(deviceKeysText);
      const bundle = readBundle(bundleInput);
      const result = await verifyBundle(bundle, key, devices, options, progress);
      if (options && options.witnessPolicy) result.witnesses = await parts.checkWitnesses(bundle.checkpoint, options);
      return { ok: true, step: null, version: null, message: "verified", ms: performance.now() - began, result, progress };
    } catch (e) {
      if (!(e instanceof BundleError)) throw e;
      return { ok: false, step: e.step, version: e.version, message: e.message, detail: e.detail, ms: performance.now() - began, progress };
    }
  }

  global.AssayVerifier = {
    BundleError, parseJson: parseStrictJson, parseStrictJson, parseVerifierKey, parseDeviceKeys,
    readBundle, verifyBundle, verifyText,
  };
})(globalThis, globalThis.AssayVerifierParts);
