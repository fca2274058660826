/*
 * Assay verifier, part 2 of 3: the chain's primitives, one section per Python module —
 * signed notes and keys (anchoring/checkpoint.py), block headers (header.py), Merkle paths
 * (merkle.py), the block accumulator (accumulator.py) and leaf records (leaves.py).
 * SHA-256 and Ed25519 are WebCrypto's.
 */
(function (parts) {
  "use strict";

  const {
    BundleError, JsonError, LONE_SURROGATE, MAX_INT, b64note, bytesEqual, concat, has, isDict,
    isInt, isStr, laxHex, parseStrictJson, strictHex32, toHex, utf8,
  } = parts;
  const subtle = globalThis.crypto && globalThis.crypto.subtle;

  // ----- crypto -----------------------------------------------------------------------

  async function sha256(...chunks) {
    return new Uint8Array(await subtle.digest("SHA-256", concat(chunks)));
  }

  /*
   * Ed25519 under the rules of docs/proof-bundle.md §4.8 (streams/ed25519.py), checked
   * here before WebCrypto is asked: BoringSSL alone accepts, e.g., the identity point as a
   * key with an identity-R, S = 0 signature of any message; libsodium does not.
   */
  const FIELD_P = (1n << 255n) - 19n;
  const ORDER_L = (1n << 252n) + 27742317777372353535851937790883648493n;
  const LOW_255 = (1n << 255n) - 1n;
  const Y8 = 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;
  // y of the eight small-order points, and the spellings p, p + 1 of y = 0, 1.
  const SMALL_ORDER_Y = new Set([0n, 1n, Y8, FIELD_P - Y8, FIELD_P - 1n, FIELD_P, FIELD_P + 1n]);

  function littleEndian(bytes) {
    let n = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
    return n;
  }

  /* Why ``key`` is not an acceptable Ed25519 public key, or null. */
  function publicKeyProblem(key) {
    if (!(key instanceof Uint8Array) || key.length !== 32) return "an Ed25519 public key is 32 bytes";
    const y = littleEndian(key) & LOW_255;
    if (SMALL_ORDER_Y.has(y)) return "the public key is a point of small order";
    if (y >= FIELD_P) return "the public key is not canonically encoded (y >= 2**255 - 19)";
    return null;
  }

  /* Why ``signature`` can never verify under these rules, or null. */
  function signatureProblem(signature) {
    if (!(signature instanceof Uint8Array) || signature.length !== 64) return "an Ed25519 signature is 64 bytes";
    if (littleEndian(signature.subarray(32)) >= ORDER_L) return "the signature's S is not canonical (S >= L)";
    if (SMALL_ORDER_Y.has(littleEndian(signature.subarray(0, 32)) & LOW_255)) return "the signature's R is a point of small order";
    return null;
  }

  const keyCache = new Map();

  /* True when ``signature`` is valid for ``message`` under ``publicKey`` by these rules. */
  async function ed25519Verify(publicKey, message, signature) {
    if (publicKeyProblem(publicKey) !== null || signatureProblem(signature) !== null) return false;
    try {
      const id = toHex(publicKey);
      if (!keyCache.has(id)) {
        keyCache.set(id, await subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]));
      }
      return await subtle.verify({ name: "Ed25519" }, keyCache.get(id), signature, message);
    } catch (e) {
      return false;
    }
  }

  // ----- keys and signed notes (anchoring/checkpoint.py) -------------------------------

  const SIGNATURE_PREFIX = "\u2014 ";
  const PY_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

  function validKeyName(name) {
    return name.length > 0 && !name.includes("+") && !PY_SPACE.test(name) &&
      !/[\x00-\x1f\x7f]/.test(name) && !LONE_SURROGATE.test(name);
  }

  async function keyId(name, publicKey) {
    return (await sha256(utf8.encode(name), Uint8Array.of(0x0a, 0x01), publicKey)).slice(0, 4);
  }

  /* A verifier key text: <name>+<8 hex key id>+<base64(0x01 || public key)>. */
  async function parseVerifierKey(text) {
    const bad = (m) => new BundleError("key_file", m);
    const first = text.indexOf("+");
    const second = first < 0 ? -1 : text.indexOf("+", first + 1);
    if (second < 0) throw bad("verifier key must be <name>+<key id>+<key>");
    const name = text.slice(0, first);
    const idHex = text.slice(first + 1, second);
    if (!validKeyName(name)) throw bad(`${JSON.stringify(name)} is not a valid key name`);
    const raw = b64note(text.slice(second + 1));
    if (raw === null || raw.length !== 33) throw bad("verifier key material is not base64 of 33 bytes");
    if (raw[0] !== 0x01) throw bad("verifier key type is not Ed25519 (0x01)");
    const publicKey = raw.slice(1);
    const problem = publicKeyProblem(publicKey);
    if (problem !== null) throw bad(`unusable platform key: ${problem}`);
    const id = await keyId(name, publicKey);
    if (!/^[0-9a-fA-F]{8}$/.test(idHex)) throw bad(`key id ${JSON.stringify(idHex)} is not 8 hex digits`);
    if (idHex.toLowerCase() !== toHex(id)) throw bad(`key id ${idHex} does not match the key (expected ${toHex(id)})`);
    return { name, publicKey, keyId: id, text };
  }

  /* Pinned device keys: {"party/device": "64 hex"}, as `assay verify --device-keys`. */
  function parseDeviceKeys(text) {
    if (!text || !text.trim()) return null;
    let raw;
    try {
      raw = parseStrictJson(text);
    } catch (e) {
      if (e instanceof JsonError) throw new BundleError("key_file", `pinned device keys: ${e.message}`);
      throw e;
    }
    const expected = 'pinned device keys: expected {"party/device": "<64 hex public key>"}';
    if (!isDict(raw)) throw new BundleError("key_file", expected);
    const out = {};
    for (const [k, v] of Object.entries(raw)) {
      if (!isStr(v) || !/^[0-9a-fA-F]{64}$/.test(v)) throw new BundleError("key_file", expected);
      out[k] = laxHex(v);
    }
    return out;
  }

  function noteFormat(message) {
    return new BundleError("checkpoint_format", message);
  }

  function splitNote(note) {
    if (LONE_SURROGATE.test(note) || /[\x00-\x09\x0b-\x1f]/.test(note)) {
      throw noteFormat("note is not UTF-8 text, or has a control character other than newline");
    }
    if (utf8.encode(note).length > 1 << 20) throw noteFormat("note is larger than 1048576 bytes");
    const split = note.lastIndexOf("\n\n");
    if (split < 0) throw noteFormat("note has no blank line before its signatures");
    const text = note.slice(0, split + 1);
    const block = note.slice(split + 2);
    if (!block.endsWith("\n")) throw noteFormat("signature block must be non-empty and end with a newline");
    const lines = block.slice(0, -1).split("\n");
    if (lines.length > 100) throw noteFormat("note has more than 100 signatures");
    const signatures = lines.map((line, n) => {
      if (!line.startsWith(SIGNATURE_PREFIX)) {
        throw noteFormat(`signature line ${n + 1} does not start with an em dash and a space`);
      }
      const rest = line.slice(SIGNATURE_PREFIX.length);
      const space = rest.indexOf(" ");
      const name = space < 0 ? rest : rest.slice(0, space);
      const raw = b64note(space < 0 ? "" : rest.slice(space + 1));
      if (!validKeyName(name) || raw === null || raw.length <= 4) {
        throw noteFormat(`signature line ${n + 1} is not '\u2014 <name> <base64 signature>'`);
      }
      return { name, keyId: raw.slice(0, 4), signature: raw.slice(4) };
    });
    return { text, signatures };
  }

  async function openNote(note, verifier) {
    const { text, signatures } = splitNote(note);
    const message = utf8.encode(text);
    let verified = false;
    for (const s of signatures) {
      if (s.name !== verifier.name || !bytesEqual(s.keyId, verifier.keyId)) continue;
      if (!(await ed25519Verify(verifier.publicKey, message, s.signature))) {
        throw new BundleError("checkpoint_signature",
          `the signature by ${verifier.name} (key ${toHex(verifier.keyId)}) does not verify over this note`);
      }
      verified = true;
    }
    if (!verified) {
      const found = [...new Set(signatures.map((s) => `${s.name} (${toHex(s.keyId)})`))].sort();
      throw new BundleError("checkpoint_signature",
        `no signature by ${verifier.name} (key ${toHex(verifier.keyId)}); the note is signed by ${found.join(", ")}`);
    }
    return text;
  }

  function parseCheckpointBody(text) {
    const lines = text.slice(0, -1).split("\n");
    if (lines.length !== 3) throw noteFormat(`checkpoint body must have 3 lines, has ${lines.length}`);
    const [origin, sizeText, headText] = lines;
    if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText)) {
      throw noteFormat(`size ${JSON.stringify(sizeText)} is not a decimal without sign or leading zeros`);
    }
    const headHash = b64note(headText);
    if (headHash === null || headHash.length !== 32) throw noteFormat("root hash line is not canonical base64 of 32 bytes");
    if (origin.length === 0 || LONE_SURROGATE.test(origin)) throw noteFormat("origin must be non-empty text");
    const size = Number(sizeText);
    if (size < 1 || size > MAX_INT) throw noteFormat(`size ${sizeText} is outside 1..2**53-1`);
    return { origin, size, headHash };
  }

  async function openCheckpoint(note, verifier, origin) {
    const checkpoint = parseCheckpointBody(await openNote(note, verifier));
    if (origin !== null && checkpoint.origin !== origin) {
      throw new BundleError("checkpoint_origin", `checkpoint is for log '${checkpoint.origin}', expected '${origin}'`);
    }
    return checkpoint;
  }

  // ----- block headers (anchoring/header.py) -------------------------------------------

  const HEADER_FIELDS = ["version", "height", "prev_hash", "merkle_root", "first_notification",
    "last_notification", "leaf_count", "sealed_at", "acc_root", "acc_size"];
  // Version 2 (docs/proof-bundle.md §10.1): the head map's root and size, as the last two lines.
  const HEADER_FIELDS_V2 = [...HEADER_FIELDS, "map_root", "map_size"];
  const INT_FIELDS = ["version", "height", "first_notification", "last_notification", "leaf_count", "acc_size", "map_size"];
  const HASH_FIELDS = ["prev_hash", "merkle_root", "acc_root", "map_root"];
  const EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  function headerFormat(message) {
    return new BundleError("header_format", message);
  }

  function validSealedAt(s) {
    const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.[0-9]{6}Z$/.exec(s);
    if (!m) return false;
    const [y, mo, d, h, mi, se] = m.slice(1).map(Number);
    const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= days[mo - 1] && h <= 23 && mi <= 59 && se <= 59;
  }

  /* A block header of version 1 (ten keys) or 2 (twelve): header_format, header_link. */
  function parseHeader(data) {
    if (!isDict(data)) throw headerFormat("a header must be a JSON object");
    // The key set a header must have follows from its version; an unknown version fails below.
    const fields = has(data, "version") && data.version === 2 ? HEADER_FIELDS_V2 : HEADER_FIELDS;
    const missing = fields.filter((f) => !has(data, f));
    if (missing.length) throw headerFormat(`header is missing ${missing.join(", ")}`);
    const extra = Object.keys(data).filter((k) => !fields.includes(k)).sort();
    if (extra.length) throw headerFormat(`header has unknown fields ${extra.join(", ")}`);
    const h = {};
    for (const name of fields) {
      const value = data[name];
      if (HASH_FIELDS.includes(name)) {
        if (strictHex32(value) === null) throw headerFormat(`${name} must be 64 lowercase hex characters`);
      } else if (INT_FIELDS.includes(name)) {
        if (!isInt(value)) throw headerFormat(`${name} must be an integer`);
      } else if (typeof value !== "string") {
        throw headerFormat(`${name} must be a string`);
      }
      h[name] = value;
    }
    for (const name of INT_FIELDS) {
      if (has(h, name) && (h[name] < 0 || h[name] > MAX_INT)) throw headerFormat(`${name}=${h[name]} is outside 0..2**53-1`);
    }
    if (!validSealedAt(h.sealed_at)) throw headerFormat(`sealed_at=${h.sealed_at} is not YYYY-MM-DDTHH:MM:SS.ffffffZ`);
    if (h.version !== 1 && h.version !== 2) throw headerFormat(`unsupported header version ${h.version} (this code reads 1 and 2)`);
    if (h.leaf_count < 1) throw headerFormat("a block has at least one leaf");
    if (h.first_notification > h.last_notification) throw headerFormat("first_notification is after last_notification");
    if (h.version === 2 && h.map_size < 1) throw headerFormat("a version 2 header's map has at least one entry");
    if (h.acc_size !== h.height) {
      throw new BundleError("header_link", `header ${h.height} accumulates ${h.acc_size} blocks, not ${h.height}`);
    }
    if (h.height === 0 && h.prev_hash !== "0".repeat(64)) {
      throw new BundleError("header_link", "the genesis header's prev_hash must be all zeros");
    }
    if (h.height === 0 && h.acc_root !== EMPTY_ROOT) {
      throw new BundleError("header_link", "the genesis header's acc_root must be EMPTY_ROOT");
    }
    return h;
  }

  /* SHA-256 of the header's canonical bytes: assay-block-v1 or -v2, one key=value a line. */
  async function blockHash(h) {
    if (!h.hash) {
      const fields = h.version === 2 ? HEADER_FIELDS_V2 : HEADER_FIELDS;
      const lines = [`assay-block-v${h.version}`, ...fields.map((f) => `${f}=${h[f]}`)];
      h.hash = await sha256(utf8.encode(lines.join("\n") + "\n"));
    }
    return h.hash;
  }

  // ----- Merkle paths inside a block (anchoring/merkle.py) ----------------------------

  function expectedPathShape(index, count) {
    const shape = [];
    while (count > 1) {
      if (!(index === count - 1 && count % 2 === 1)) shape.push(index % 2 ? "left" : "right");
      index = Math.floor(index / 2);
      count = Math.floor((count + 1) / 2);
    }
    return shape;
  }

  function parsePath(path) {
    if (!Array.isArray(path)) throw new BundleError("merkle_path_entry", "path must be a list");
    return path.map((entry, i) => {
      if (!isDict(entry) || Object.keys(entry).length !== 1) {
        throw new BundleError("merkle_path_entry", `path entry ${i} must be an object with one key`);
      }
      const side = Object.keys(entry)[0];
      if (side !== "left" && side !== "right") {
        throw new BundleError("merkle_path_entry", `path entry ${i} has key '${side}', expected 'left' or 'right'`);
      }
      const sibling = strictHex32(entry[side]);
      if (sibling === null) throw new BundleError("merkle_path_entry", `path entry ${i} is not 64 lowercase hex characters`);
      return [side, sibling];
    });
  }

  async function verifyInclusion(leaf, index, leafCount, path, root) {
    if (!(index >= 0 && index < leafCount)) {
      throw new BundleError("merkle_index", `leaf index ${index} is not in a tree of ${leafCount} leaves`);
    }
    const steps = parsePath(path);
    const expected = expectedPathShape(index, leafCount);
    const given = steps.map((s) => s[0]);
    if (given.join() !== expected.join()) {
      throw new BundleError("merkle_path_shape",
        `path for leaf ${index} of ${leafCount} must have sides [${expected}], got [${given}]`);
    }
    let node = leaf;
    for (const [side, sibling] of steps) {
      node = side === "left" ? await sha256(sibling, node) : await sha256(node, sibling);
    }
    if (!bytesEqual(node, root)) {
      throw new BundleError("merkle_root", `path leads to root ${toHex(node)}, the header commits to ${toHex(root)}`);
    }
  }

  // ----- the block accumulator, RFC 9162 inclusion (anchoring/accumulator.py) ----------

  /* RFC 9162 §2.1.3.2: the root an inclusion proof of leaf `index` in a tree of `size`
   * implies; `bad(message)` is called (and must throw) for a proof too long or too short. */
  async function inclusionRoot(hash, index, size, proof, what, bad) {
    let fn = index;
    let sn = size - 1;
    let node = await sha256(Uint8Array.of(0), hash);
    const half = (x) => Math.floor(x / 2);
    for (const sibling of proof) {
      if (sn === 0) bad(`${what} of ${proof.length} hashes is too long for block ${index} of ${size}`);
      if (fn % 2 === 1 || fn === sn) {
        node = await sha256(Uint8Array.of(1), sibling, node);
        while (fn !== 0 && fn % 2 === 0) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        node = await sha256(Uint8Array.of(1), node, sibling);
      }
      fn = half(fn);
      sn = half(sn);
    }
    if (sn !== 0) bad(`${what} of ${proof.length} hashes is too short for block ${index} of ${size}`);
    return node;
  }

  async function verifyAccInclusion(hash, index, size, proof, root) {
    proof.forEach((p, i) => {
      if (p.length !== 32) throw new BundleError("acc_proof", `proof hash ${i} is not 32 bytes`);
    });
    if (!(index >= 0 && index < size)) {
      throw new BundleError("acc_index", `block ${index} is not in an accumulator of ${size} blocks`);
    }
    const node = await inclusionRoot(hash, index, size, proof, "proof", (m) => {
      throw new BundleError("acc_proof", m);
    });
    if (!bytesEqual(node, root)) {
      throw new BundleError("acc_inclusion", `block ${index} proves into root ${toHex(node)}, the head commits to ${toHex(root)}`);
    }
  }

  // ----- leaves (anchoring/leaves.py) --------------------------------------------------

  function u32(n) {
    return Uint8Array.of((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  }

  async function leafOf(itemId, version, kind, payload, prev) {
    const item = utf8.encode(itemId);
    const hi = Math.floor(version / 2 ** 32);
    const record = concat([utf8.encode("assay-leaf-v1\n"), u32(item.length), item,
      u32(hi), u32(version - hi * 2 ** 32), prev, utf8.encode(kind), u32(payload.length), payload]);
    return sha256(Uint8Array.of(0), record);
  }

  Object.assign(parts, {
    blockHash, ed25519Verify, leafOf, openCheckpoint, parseDeviceKeys, parseHeader, parseVerifierKey,
    inclusionRoot, publicKeyProblem, sha256, signatureProblem, splitNote, verifyAccInclusion, verifyInclusion,
  });
})(globalThis.AssayVerifierParts);
