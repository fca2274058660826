/*
 * Assay verifier, part 3 of 4 (after verifier-encodings.js and verifier-chain.js): what
 * format version 2 adds (docs/proof-bundle.md §10) — the head map assay-headmap-v1 and its
 * proofs, the steps 5a–5c, F20, G21 and H22 of a version 2 bundle, and absence bundles —
 * and what version 3 adds (§11): a version 2 checkpoint signs the block log's tree head,
 * and the head is proven into it (head_proof); and version 5's spelling of map proofs
 * (§14): every hash in base64url instead of hex.
 * Written from the specification, not from the Python reference: the two are meant to be
 * independent implementations that agree on every vector (tests/server/test_parity.py).
 */
(function (parts) {
  "use strict";

  const {
    BundleError, MAX_INT, blockHash, bytesEqual, concat, has, hex32Field, inclusionRoot, isDict,
    isInt, isStr, openCheckpoint, parseHeader, sha256, strictHex32, toHex, utf8, verifyAccInclusion,
  } = parts;

  const fail = (step, message) => {
    throw new BundleError(step, message);
  };

  /* Re-raise a lower-level failure as ``step`` (null: under its own), its message prefixed. */
  async function within(prefix, check, step) {
    try {
      return await check();
    } catch (e) {
      if (e instanceof BundleError) fail(step || e.step, `${prefix}: ${e.message}`);
      throw e;
    }
  }

  // ----- the head map, assay-headmap-v1 (§10.2) ---------------------------------------

  const EMPTY = new Uint8Array(32);
  const MAX_DEPTH = 256;
  const VALUE_HEX = /^[0-9a-f]{112}$/;

  /* key = SHA-256("item" ‖ 0x00 ‖ item_id_utf8) */
  function itemKey(itemId) {
    return sha256(utf8.encode("item"), Uint8Array.of(0), utf8.encode(itemId));
  }

  function u64(n) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(n));
    return out;
  }

  /* The 56-byte value of an entry: u64be(version) ‖ leaf ‖ u64be(height) ‖ u64be(leaf_index). */
  function entryValue(entry) {
    return concat([u64(entry.version), entry.leaf, u64(entry.height), u64(entry.leaf_index)]);
  }

  /* Bit i of a key: bit 0 is the most significant bit of its first byte. */
  function bit(key, i) {
    return (key[i >> 3] >> (7 - (i & 7))) & 1;
  }

  const leafNode = (key, value) => sha256(Uint8Array.of(2), key, value);
  const innerNode = (left, right) => sha256(Uint8Array.of(3), left, right);

  const isIndex = (v) => isInt(v) && v >= 0 && v <= MAX_INT;

  /* A map entry as JSON (§10.3): bundle_format unless each member has its type. */
  function parseMapEntry(data, where) {
    if (!isDict(data)) fail("bundle_format", `${where} must be a JSON object`);
    for (const name of ["version", "leaf", "height", "leaf_index"]) {
      if (!has(data, name)) fail("bundle_format", `${where} has no field '${name}'`);
    }
    if (!isIndex(data.version) || data.version < 1) fail("bundle_format", `${where}: version must be an integer >= 1`);
    const leaf = strictHex32(data.leaf);
    if (leaf === null) fail("bundle_format", `${where}: leaf must be 64 lowercase hex characters`);
    if (!isIndex(data.height)) fail("bundle_format", `${where}: height must be an integer in 0..2**53-1`);
    if (!isIndex(data.leaf_index)) fail("bundle_format", `${where}: leaf_index must be an integer in 0..2**53-1`);
    return { version: data.version, leaf, height: data.height, leaf_index: data.leaf_index };
  }

  /* A map proof as JSON (§10.2): {"siblings": [hex32 | null, …], "other": null | {key, value}}. */
  function parseMapProof(data, where) {
    if (!isDict(data)) fail("bundle_format", `${where} must be a JSON object`);
    if (!has(data, "siblings") || !has(data, "other")) fail("bundle_format", `${where} must have 'siblings' and 'other'`);
    const { siblings, other } = data;
    if (!Array.isArray(siblings)) fail("bundle_format", `${where}: siblings must be an array`);
    if (siblings.length > MAX_DEPTH) fail("bundle_format", `${where}: more than ${MAX_DEPTH} siblings`);
    const hashes = siblings.map((s, i) => {
      if (s === null) return null;
      const raw = strictHex32(s);
      if (raw === null) fail("bundle_format", `${where}: sibling ${i} is neither null nor 64 lowercase hex characters`);
      return raw;
    });
    if (other === null) return { siblings: hashes, other: null };
    if (!isDict(other) || !has(other, "key") || !has(other, "value")) {
      fail("bundle_format", `${where}: other must be null or {"key", "value"}`);
    }
    const key = strictHex32(other.key);
    if (key === null) fail("bundle_format", `${where}: other.key must be 64 lowercase hex characters`);
    if (!isStr(other.value) || !VALUE_HEX.test(other.value)) fail("bundle_format", `${where}: other.value must be 112 lowercase hex characters`);
    const value = new Uint8Array(56);
    for (let i = 0; i < 56; i++) value[i] = parseInt(other.value.substr(i * 2, 2), 16);
    return { siblings: hashes, other: { key, value } };
  }

  // ----- version 5: the same proof, its hashes in base64url (§14.1) -------------------

  // 32 bytes are 43 characters, 56 bytes 75; the last one's two unused bits are zero.
  const B64URL_32 = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
  const B64URL_VALUE = /^[A-Za-z0-9_-]{74}[AEIMQUYcgkosw048]$/;
  const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const SEXTET = new Uint8Array(128);
  for (let i = 0; i < 64; i++) SEXTET[B64URL.charCodeAt(i)] = i;

  /* ``n`` bytes from base64url text the patterns above have already accepted (so every
   * character is in the alphabet and the bits after the n-th byte are zero). */
  function fromB64url(text, n) {
    const out = new Uint8Array(n);
    let acc = 0, bits = 0, at = 0;
    for (let i = 0; i < text.length; i++) {
      acc = ((acc << 6) | SEXTET[text.charCodeAt(i)]) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        if (at < n) out[at++] = (acc >> bits) & 0xff;
      }
    }
    return out;
  }

  /* A version 5 map proof: {"siblings": [b64url32 | null, …], "other": null | {key, value}}. */
  function parseMapProofV5(data, where) {
    if (!isDict(data)) fail("bundle_format", `${where} must be a JSON object`);
    if (!has(data, "siblings") || !has(data, "other")) fail("bundle_format", `${where} must have 'siblings' and 'other'`);
    const { siblings, other } = data;
    if (!Array.isArray(siblings)) fail("bundle_format", `${where}: siblings must be an array`);
    if (siblings.length > MAX_DEPTH) fail("bundle_format", `${where}: more than ${MAX_DEPTH} siblings`);
    const hashes = siblings.map((s, i) => {
      if (s === null) return null;
      if (!isStr(s) || !B64URL_32.test(s)) fail("bundle_format", `${where}: sibling ${i} is neither null nor 43 canonical base64url characters`);
      return fromB64url(s, 32);
    });
    if (other === null) return { siblings: hashes, other: null };
    if (!isDict(other) || !has(other, "key") || !has(other, "value")) {
      fail("bundle_format", `${where}: other must be null or {"key", "value"}`);
    }
    if (!isStr(other.key) || !B64URL_32.test(other.key)) fail("bundle_format", `${where}: other.key must be 43 canonical base64url characters`);
    if (!isStr(other.value) || !B64URL_VALUE.test(other.value)) fail("bundle_format", `${where}: other.value must be 75 canonical base64url characters`);
    return { siblings: hashes, other: { key: fromB64url(other.key, 32), value: fromB64url(other.value, 56) } };
  }

  /* A map proof in the spelling of bundle ``version``: base64url from 5 on, hex before. */
  const readMapProof = (data, where, version) =>
    (version >= 5 ? parseMapProofV5 : parseMapProof)(data, where);

  /*
   * map_root_of(key, E, proof): the root the proof implies for ``key`` holding ``value``
   * (membership) or, with value null, holding nothing. Every failure is ``map_proof``.
   */
  async function mapRootOf(key, value, proof) {
    const bad = (m) => fail("map_proof", m);
    const d = proof.siblings.length;
    let node;
    if (value !== null) {
      if (proof.other !== null) bad("a membership proof names another key");
      node = await leafNode(key, value);
    } else if (proof.other !== null) {
      const o = proof.other.key;
      if (bytesEqual(o, key)) bad("the proof names the key's own entry");
      for (let i = 0; i < d; i++) if (bit(o, i) !== bit(key, i)) bad(`the other key leaves the path at depth ${i + 1}`);
      node = await leafNode(o, proof.other.value);
    } else {
      node = EMPTY;
    }
    // A lone entry beside an empty subtree would sit one level higher: not canonical.
    if (d > 0 && proof.siblings[0] === null && !bytesEqual(node, EMPTY)) bad("a lone entry beside an empty sibling");
    for (let j = 0; j < d; j++) {
      let s = proof.siblings[j];
      if (s !== null && bytesEqual(s, EMPTY)) bad(`sibling ${j} writes EMPTY as hex, not null`);
      if (s === null) s = EMPTY;
      node = bit(key, d - 1 - j) ? await innerNode(s, node) : await innerNode(node, s);
    }
    return node;
  }

  // ----- checkpoints: version 1 (the head's hash) or 2 (the log's tree head), §11 ------

  const EMPTY_TREE = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  /* RFC 9162 §2.1.3.2: the root the last leaf's proof implies (index = size - 1). */
  function rootOfLastLeaf(hash, size, proof) {
    return inclusionRoot(hash, size - 1, size, proof, "head_proof", (m) => fail("checkpoint_inclusion", m));
  }

  /* MTH of blocks 0..n-2 from the last leaf's proof: its perfect subtrees, smallest first. */
  async function foldPrefix(proof) {
    if (!proof.length) return EMPTY_TREE;
    let node = proof[0];
    for (const left of proof.slice(1)) node = await sha256(Uint8Array.of(1), left, node);
    return toHex(node);
  }

  /* B5 with a version 2 checkpoint: the head is the tree head's last leaf, and the leaves
   * before it are the history the head's accumulator commits to. */
  async function checkHeadInTree(checkpoint, head, headHash, proofJson, where) {
    if (!Array.isArray(proofJson)) fail("bundle_format", `${where}head_proof must be a list of hashes`);
    const proof = proofJson.map((p) => hex32Field(p, `${where}head_proof`));
    if (head.height + 1 !== checkpoint.size) {
      fail("checkpoint_head", `the ${where}head is block ${head.height} of ${checkpoint.size} blocks`);
    }
    if (bytesEqual(headHash, checkpoint.headHash)) {
      fail("checkpoint_version", `the ${where}checkpoint signs the head block's hash: a version 1 checkpoint, ` +
        "which a version 3 document (or a newer object with head_proof) cannot carry");
    }
    const root = await rootOfLastLeaf(headHash, checkpoint.size, proof);
    if (!bytesEqual(root, checkpoint.headHash)) {
      fail("checkpoint_inclusion", `the ${where}head proves into tree head ${toHex(root)}, the checkpoint signs ${toHex(checkpoint.headHash)}`);
    }
    const prefix = await foldPrefix(proof);
    if (prefix !== head.acc_root) {
      fail("checkpoint_inclusion", `the checkpoint's tree before the ${where}head has root ${prefix}, the head's accumulator ${head.acc_root}`);
    }
  }

  /*
   * Steps B3–B5 and 5a on a document's checkpoint and head; ``where`` names it ("" the
   * bundle, "newer " its newer object). A bundle of version 3 carries a version 2
   * checkpoint; a newer object does when it has head_proof; else the checkpoint signs the
   * head block's hash (version 1).
   */
  async function checkpointAndHead(doc, platformKey, origin, where) {
    const checkpoint = await within(`${where}checkpoint`, () => openCheckpoint(doc.checkpoint, platformKey, origin));
    const head = await within(`${where}head header`, () => parseHeader(doc.head));
    const headHash = await blockHash(head);
    const treeHead = where ? has(doc, "head_proof") : doc.version === 3 || doc.version === 4 || doc.version === 5;
    if (treeHead) {
      await checkHeadInTree(checkpoint, head, headHash, doc.head_proof, where);
    } else if (head.height + 1 !== checkpoint.size || !bytesEqual(headHash, checkpoint.headHash)) {
      fail("checkpoint_head", `the ${where}head header is not the block the checkpoint signs`);
    }
    if ((where || doc.version !== 1) && head.version !== 2) {
      fail("bundle_format", `the ${where}head of a version 2 or 3 document is a version 1 header`);
    }
    return { checkpoint, head };
  }

  // ----- a version 2 proof bundle (§10.6) ----------------------------------------------

  function requireV2Head(head, what) {
    if (head.version !== 2) fail("bundle_format", `${what} is a version ${head.version} header; version 2 is required`);
  }

  /* Steps 5a–5c: the head is version 2 and the item's entry is in its map. */
  async function checkHeadMap(bundle, head) {
    requireV2Head(head, "the head");
    const entry = parseMapEntry(bundle.map_entry, "map_entry");
    const proof = readMapProof(bundle.map_proof, "map_proof", bundle.version);
    const key = await itemKey(bundle.item_id);
    const root = await mapRootOf(key, entryValue(entry), proof);
    if (!bytesEqual(root, strictHex32(head.map_root))) {
      fail("map_root", `the map proof leads to root ${toHex(root)}, the head commits to ${head.map_root}`);
    }
    return { key, entry };
  }

  /* F20: the map's entry is the last event listed, so none was left out after it. */
  function checkComplete(entry, events) {
    const last = events[events.length - 1];
    const same = entry.version === events.length && toHex(entry.leaf) === last.leaf &&
      entry.height === last.height && entry.leaf_index === last.leaf_index;
    if (!same) {
      fail("history_incomplete", `the head map's entry is version ${entry.version} (block ${entry.height}, leaf ` +
        `${entry.leaf_index}); the bundle ends at version ${events.length}`);
    }
  }

  const sameEntry = (a, b) => a.version === b.version && bytesEqual(a.leaf, b.leaf) &&
    a.height === b.height && a.leaf_index === b.leaf_index;

  const NEWER_FIELDS = [["checkpoint", isStr], ["head", isDict], ["acc_proof", Array.isArray],
    ["map_entry", isDict], ["map_proof", isDict]];

  /*
   * G21: a newer checkpoint, a descendant of the bundle's head, with the item's entry
   * unchanged. The order of §10.6 as amended: the members' types and the accumulator
   * proof's hashes (a); the checkpoint (b); its head, then that head's version (c);
   * consistency (d); the entry's and proof's shapes, then the map proof (e); the entry (f).
   */
  async function checkNewer(newer, head, key, entry, platformKey, origin, version) {
    for (const [name, ok] of NEWER_FIELDS) {
      if (!has(newer, name) || !ok(newer[name])) fail("bundle_format", `newer: '${name}' is missing or has the wrong type`);
    }
    const proof = newer.acc_proof.map((p, i) => {
      const raw = strictHex32(p);
      if (raw === null) fail("bundle_format", `newer: acc_proof[${i}] must be 64 lowercase hex characters`);
      return raw;
    });
    const { checkpoint, head: newerHead } = await checkpointAndHead(newer, platformKey, origin, "newer ");
    const newerHash = await blockHash(newerHead);
    const headHash = await blockHash(head);
    if (newerHead.height < head.height) {
      fail("checkpoint_consistency", `the newer checkpoint's head ${newerHead.height} is older than the bundle's ${head.height}`);
    } else if (newerHead.height === head.height) {
      if (!bytesEqual(newerHash, headHash) || proof.length) {
        fail("checkpoint_consistency", `the newer head at height ${head.height} is another block, or carries a proof`);
      }
    } else {
      await within(`the bundle's head in the newer checkpoint`,
        () => verifyAccInclusion(headHash, head.height, newerHead.acc_size, proof, strictHex32(newerHead.acc_root)),
        "checkpoint_consistency");
    }
    const newerEntry = parseMapEntry(newer.map_entry, "newer.map_entry");
    const newerProof = readMapProof(newer.map_proof, "newer.map_proof", version);
    const root = await mapRootOf(key, entryValue(newerEntry), newerProof);
    if (!bytesEqual(root, strictHex32(newerHead.map_root))) {
      fail("map_root", `the newer map proof leads to root ${toHex(root)}, newer.head commits to ${newerHead.map_root}`);
    }
    if (!sameEntry(newerEntry, entry)) {
      fail("newer_events", `the item's entry changed by the newer checkpoint: now version ${newerEntry.version}`);
    }
    return { checkpoint, head: newerHead };
  }

  // ----- freshness, H22 ----------------------------------------------------------------

  /* sealed_at (YYYY-MM-DDTHH:MM:SS.ffffffZ, already checked) as microseconds since 1970. */
  function sealedMicros(sealedAt) {
    const [y, mo, d, h, mi, s, f] = sealedAt.match(/[0-9]+/g).map(Number);
    const date = new Date(0);
    date.setUTCFullYear(y, mo - 1, d); // not Date.UTC: it reads years 0–99 as 1900–1999
    date.setUTCHours(h, mi, s, 0);
    return date.getTime() * 1000 + f;
  }

  /* H22: with a maximum age given, the checkpoint's head must be at most that old. */
  function checkFresh(head, options) {
    const maxAge = options ? options.maxAgeSeconds : undefined;
    if (maxAge === undefined || maxAge === null) return;
    const now = options.now === undefined || options.now === null ? Date.now() : options.now;
    const age = now * 1000 - sealedMicros(head.sealed_at);
    if (age > maxAge * 1e6) {
      fail("checkpoint_stale", `the checkpoint's head was sealed at ${head.sealed_at}, ` +
        `${Math.floor(age / 1e6)} s ago, more than the maximum age of ${maxAge} s`);
    }
  }

  // ----- the absence bundle (§10.5, §10.6) --------------------------------------------

  const ABSENCE_FIELDS = { item_id: isStr, checkpoint: isStr, head: isDict, map_proof: isDict };

  /* Steps A, B, C and H of an absence bundle (format already read as "assay-absence"). */
  async function verifyAbsence(bundle, platformKey, options) {
    const origin = (options && options.origin) || null;
    if (!has(bundle, "version") || !isInt(bundle.version) || ![2, 3, 5].includes(bundle.version)) {
      fail("bundle_format", "not an assay-absence version 2, 3 or 5 document");
    }
    const fields = bundle.version !== 2 ? { ...ABSENCE_FIELDS, head_proof: Array.isArray } : ABSENCE_FIELDS;
    for (const [name, ok] of Object.entries(fields)) {
      if (!has(bundle, name) || !ok(bundle[name])) fail("bundle_format", `absence bundle: '${name}' is missing or has the wrong type`);
    }
    if (!bundle.item_id) fail("bundle_format", "item_id is empty");
    const { checkpoint, head } = await checkpointAndHead(bundle, platformKey, origin, "");
    const proof = readMapProof(bundle.map_proof, "map_proof", bundle.version);
    const key = await itemKey(bundle.item_id);
    if (proof.other !== null && bytesEqual(proof.other.key, key)) {
      fail("absence_refuted", "the proof names the item's own entry in the map");
    }
    const root = await within("absence proof", () => mapRootOf(key, null, proof), "absence_proof");
    if (!bytesEqual(root, strictHex32(head.map_root))) {
      fail("absence_refuted", `the proof leads to root ${toHex(root)}, the head commits to ${head.map_root}`);
    }
    checkFresh(head, options);
    return {
      item_id: bundle.item_id, origin: checkpoint.origin, checkpoint_size: checkpoint.size, events: 0,
      pending: [], story: [], declared_in_error: [], bundle_version: bundle.version, completeness: "complete",
      absent: true, checkpoint_time: head.sealed_at,
    };
  }

  Object.assign(parts, {
    checkComplete, checkFresh, checkHeadMap, checkNewer, checkpointAndHead, entryValue, itemKey, mapRootOf,
    parseMapEntry, parseMapProof, parseMapProofV5, readMapProof, verifyAbsence,
  });
})(globalThis.AssayVerifierParts);
