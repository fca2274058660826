/*
 * Assay verifier, registry part (load after verifier-map.js, before verifier.js): what
 * format version 4 adds (docs/proof-bundle.md §12) — party and device records
 * (assay-party-v1, assay-device-v1) proven into the head map (step 5d), envelopes checked
 * with the proven keys (step D16), each event's time within its device's proven window
 * (step D17a), and the parties' names and roles reported as proven.
 * Written from the specification; tests/server/test_parity_registry.py compares it with
 * the Python reference (anchoring/verify_registry.py) on every version 4 vector.
 */
(function (parts) {
  "use strict";

  const {
    BundleError, MAX_INT, bytesEqual, concat, entryValue, has, isDict, isInt, isStr, mapRootOf,
    parseMapEntry, publicKeyProblem, readMapProof, sha256, strictHex32, toHex, utf8,
  } = parts;

  const fail = (step, message) => {
    throw new BundleError(step, message);
  };

  const PARTY_RECORD = ["party_id", "name", "role", "brands", "company_prefixes"];
  const DEVICE_RECORD = ["party_id", "device_id", "public_key", "enrolled_at", "effective_from", "revoked_at"];

  // ----- records (§12.1) ----------------------------------------------------------------

  function u32(n) {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, n);
    return out;
  }

  function u64(n) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(n));
    return out;
  }

  /* str(s) = u32be(len(utf8(s))) ‖ utf8(s); list(xs) = u32be(count) ‖ str(x)… */
  function str(s) {
    const raw = utf8.encode(s);
    return concat([u32(raw.length), raw]);
  }

  const list = (xs) => concat([u32(xs.length), ...xs.map(str)]);
  const opt = (t) => (t === null ? Uint8Array.of(0) : concat([Uint8Array.of(1), u64(t)]));

  function partyRecord(r) {
    return concat([utf8.encode("assay-party-v1\n"), str(r.party_id), str(r.name), str(r.role),
      list(r.brands), list(r.company_prefixes)]);
  }

  function deviceRecord(r) {
    return concat([utf8.encode("assay-device-v1\n"), str(r.party_id), str(r.device_id),
      strictHex32(r.public_key), u64(r.enrolled_at), opt(r.effective_from), opt(r.revoked_at)]);
  }

  const partyKey = (id) => sha256(utf8.encode("party"), Uint8Array.of(0), utf8.encode(id));
  const deviceKey = (name) => sha256(utf8.encode("device"), Uint8Array.of(0), utf8.encode(name));

  // ----- step 5d ------------------------------------------------------------------------

  function sameKeys(obj, keys) {
    const have = Object.keys(obj);
    return have.length === keys.length && keys.every((k) => has(obj, k));
  }

  function member(value, where, keys, version) {
    const ok = isDict(value) && ["record", "map_entry", "map_proof"].every((k) => has(value, k) && isDict(value[k]));
    if (!ok) fail("bundle_format", `${where} must have 'record', 'map_entry' and 'map_proof' objects`);
    if (!sameKeys(value.record, keys)) fail("bundle_format", `${where}: the record's keys must be exactly ${keys.join(", ")}`);
    const entry = parseMapEntry(value.map_entry, `${where} map_entry`);
    const proof = readMapProof(value.map_proof, `${where} map_proof`, version);
    return { record: value.record, entry, proof };
  }

  const isTime = (v, nullable) => (v === null ? nullable : isInt(v) && v >= 0 && v <= MAX_INT);
  const isTexts = (v) => Array.isArray(v) && v.every(isStr);

  function checkPartyFields(name, r) {
    const ok = isStr(r.party_id) && isStr(r.name) && isStr(r.role) && isTexts(r.brands) &&
      isTexts(r.company_prefixes) && r.party_id === name;
    if (!ok) fail("bundle_format", `registry party '${name}': a record field has the wrong type or id`);
  }

  function checkDeviceFields(name, r) {
    const ok = isStr(r.party_id) && isStr(r.device_id) && isStr(r.public_key) &&
      strictHex32(r.public_key) !== null && isTime(r.enrolled_at, false) &&
      isTime(r.effective_from, true) && isTime(r.revoked_at, true) &&
      `${r.party_id}/${r.device_id}` === name;
    if (!ok) fail("bundle_format", `registry device '${name}': a record field has the wrong type or name`);
  }

  async function prove(step, root, key, raw, p, name) {
    if (!bytesEqual(p.entry.leaf, await sha256(raw))) fail(step, `${name}: the record is not the one its map entry commits to`);
    let computed;
    try {
      computed = await mapRootOf(key, entryValue(p.entry), p.proof);
    } catch (e) {
      if (e instanceof BundleError) fail(step, `${name}: the map proof: ${e.message}`);
      throw e;
    }
    if (!bytesEqual(computed, root)) fail(step, `${name}: the map proof leads to ${toHex(computed)}, the head's map root is ${toHex(root)}`);
  }

  /* Step 5d: every party and device record of ``registry``, proven at the head. */
  async function checkRegistry(bundle, head) {
    const registry = bundle.registry;
    if (!has(registry, "parties") || !isDict(registry.parties) || !has(registry, "devices") || !isDict(registry.devices)) {
      fail("bundle_format", "registry must have 'parties' and 'devices' objects");
    }
    const parties = new Map();
    for (const [name, value] of Object.entries(registry.parties)) parties.set(name, member(value, `registry party '${name}'`, PARTY_RECORD, bundle.version));
    for (const [name, p] of parties) checkPartyFields(name, p.record);
    const devices = new Map();
    for (const [name, value] of Object.entries(registry.devices)) devices.set(name, member(value, `registry device '${name}'`, DEVICE_RECORD, bundle.version));
    for (const [name, p] of devices) checkDeviceFields(name, p.record);
    for (const [name, p] of devices) {
      if (!parties.has(p.record.party_id)) fail("party_proof", `device ${name}'s party is not in the bundle's registry`);
    }
    const root = strictHex32(head.map_root);
    for (const [name, p] of parties) await prove("party_proof", root, await partyKey(name), partyRecord(p.record), p, name);
    for (const [name, p] of devices) {
      await prove("device_proof", root, await deviceKey(`${p.record.party_id}/${p.record.device_id}`), deviceRecord(p.record), p, name);
    }
    return new Registry(parties, devices);
  }

  // ----- steps D16 and D17a, and the result ----------------------------------------------

  /* occurred_at as the summary spells it (YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00), in µs. */
  function occurredMicros(text) {
    const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{6}))?\+00:00$/.exec(text);
    if (m === null) fail("envelope_format", `occurred_at '${text}' is not a UTC time`);
    const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
    const date = new Date(0);
    date.setUTCFullYear(y, mo - 1, d); // not Date.UTC: it reads years 0–99 as 1900–1999
    date.setUTCHours(h, mi, s, 0);
    return BigInt(date.getTime()) * 1000n + BigInt(m[7] ? Number(m[7]) : 0);
  }

  class Registry {
    constructor(parties, devices) {
      this.partyRecords = parties;
      this.deviceRecords = devices;
    }

    /* Party id → {name, role, proven: true}: what a page may show as fact. */
    get parties() {
      const out = {};
      for (const [id, p] of this.partyRecords) out[id] = { name: p.record.name, role: p.record.role, proven: true };
      return out;
    }

    keys(pinned) {
      return new ProvenKeys(this, pinned);
    }

    /* D17a: the signed event occurred while its device's key was valid. */
    checkWindow(summary) {
      const device = `${summary.party_id}/${summary.device_id}`;
      const r = this.deviceRecords.get(device).record; // D16 found it
      const when = occurredMicros(summary.occurred_at);
      const since = BigInt(r.effective_from === null ? r.enrolled_at : r.effective_from);
      if (when < since) fail("device_not_enrolled", `the event occurred before device ${device}'s key speaks for its party`);
      if (r.revoked_at !== null && when >= BigInt(r.revoked_at)) fail("device_revoked", `the event occurred after device ${device} was revoked`);
    }
  }

  /* D16 in version 4: the key is the proven one; a pinned key must equal it. */
  class ProvenKeys {
    constructor(registry, pinned) {
      this.registry = registry;
      this.pinned = pinned || {};
      this.used = new Map();
    }

    publicKey(device) {
      if (!this.used.has(device)) this.used.set(device, this.lookUp(device));
      return this.used.get(device).key;
    }

    lookUp(device) {
      const proven = this.registry.deviceRecords.get(device);
      if (proven === undefined) fail("device_proof", `device ${device} is not in the bundle's registry: its key is unproven`);
      const key = strictHex32(proven.record.public_key);
      if (has(this.pinned, device) && !bytesEqual(this.pinned[device], key)) {
        fail("device_key", `the key pinned for ${device} is not the key the ledger proves`);
      }
      const problem = publicKeyProblem(key);
      if (problem !== null) fail("device_key", `proven key of ${device}: ${problem}`);
      return { key, source: "proven" };
    }

    source(device) {
      return this.used.get(device).source;
    }
  }

  Object.assign(parts, { checkRegistry, deviceRecord, partyRecord });
})(globalThis.AssayVerifierParts);
