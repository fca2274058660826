/*
 * Assay verifier, part 1 of 3: encodings, as the Python reference reads them.
 * strict JSON read as anchoring/strictjson.py reads it, JSON values with Python's int/float
 * distinction and equality, hex and base64 exactly as CPython 3.11 decodes them, and Avro
 * single-object messages in their canonical encoding only, as streams/avro.py reads them
 * (streams/schemas/*.avsc). See verifier.js and docs/verifier.md.
 */
(function (parts) {
  "use strict";

  const utf8 = new TextEncoder();
  const MAX_INT = 2 ** 53 - 1;

  // ----- errors ---------------------------------------------------------------------

  class BundleError extends Error {
    constructor(step, message, version) {
      super((version != null ? `event v${version}: ` : "") + message);
      this.step = step;
      this.detail = message;
      this.version = version == null ? null : version;
    }
  }

  // ----- strict JSON (anchoring/strictjson.py, docs/proof-bundle.md §2.1) -------------

  class JsonError extends Error {}

  const MAX_DEPTH = 64;
  const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
  const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
  const PLAIN_STRING = /[\\\x00-\x1f]/;
  const ESCAPES = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

  /* The text of strict JSON input: bytes must be UTF-8 without a byte-order mark. */
  function jsonText(input) {
    if (typeof input === "string") {
      if (input.charCodeAt(0) === 0xfeff) throw new JsonError("the text starts with a byte-order mark");
      if (LONE_SURROGATE.test(input)) throw new JsonError("the text is not Unicode (it holds a lone surrogate)");
      return input;
    }
    const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      throw new JsonError("the text starts with a byte-order mark");
    }
    try {
      return strictUtf8.decode(bytes);
    } catch (e) {
      throw new JsonError("not UTF-8");
    }
  }

  /*
   * strictjson.loads: RFC 8259 JSON read the same by every verifier, or a JsonError. No
   * NaN/Infinity, no number infinite as a double, no integer beyond ±(2**53 − 1), no
   * escaped lone surrogate, no member name twice in an object, at most 64 nested arrays
   * and objects. Numbers with a fraction or exponent become Number objects (Python's
   * floats: never integers, equal by value in summaries). ``input``: a string, or bytes.
   */
  function parseStrictJson(input) {
    const text = jsonText(input);
    let at = 0;
    const bad = (what) => new JsonError(`${what} at character ${at}`);
    const space = () => {
      for (let c = text.charCodeAt(at); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++at));
    };

    function string() {
      at++; // the opening quote
      const end = text.indexOf('"', at);
      if (end < 0) throw bad("an unterminated string");
      const plain = text.slice(at, end);
      if (!PLAIN_STRING.test(plain)) {
        at = end + 1;
        return plain;
      }
      let out = "";
      for (;;) {
        const c = text[at];
        if (c === undefined) throw bad("an unterminated string");
        if (c === '"') {
          at++;
          return out;
        }
        if (c < " ") throw bad("a control character in a string");
        if (c !== "\\") {
          out += c;
          at++;
          continue;
        }
        const e = text[at + 1];
        if (e !== "u") {
          if (!has(ESCAPES, e)) throw bad("an invalid escape");
          out += ESCAPES[e];
          at += 2;
          continue;
        }
        const unit = hex4(at + 2);
        at += 6;
        if (unit >= 0xdc00 && unit <= 0xdfff) throw bad("an escaped lone surrogate");
        if (unit >= 0xd800 && unit <= 0xdbff) {
          const low = text.startsWith("\\u", at) ? hex4(at + 2) : -1;
          if (!(low >= 0xdc00 && low <= 0xdfff)) throw bad("an escaped lone surrogate");
          out += String.fromCharCode(unit, low);
          at += 6;
        } else {
          out += String.fromCharCode(unit);
        }
      }
    }

    function hex4(from) {
      const digits = text.slice(from, from + 4);
      if (!/^[0-9a-fA-F]{4}$/.test(digits)) throw bad("an invalid \\u escape");
      return parseInt(digits, 16);
    }

    function number() {
      NUMBER.lastIndex = at;
      const m = NUMBER.exec(text);
      if (m === null) throw bad("an invalid value");
      at = NUMBER.lastIndex;
      const value = Number(m[0]);
      if (m[1] !== undefined || m[2] !== undefined) {
        if (!Number.isFinite(value)) throw bad("a number beyond a double's range");
        return new Number(value); // eslint-disable-line no-new-wrappers
      }
      if (!(Math.abs(value) <= MAX_INT)) throw bad("an integer beyond ±(2**53 - 1)");
      return value;
    }

    function value(depth) {
      const c = text[at];
      if (c === "{" || c === "[") {
        if (depth + 1 > MAX_DEPTH) throw bad(`arrays and objects nested deeper than ${MAX_DEPTH}`);
        at++;
        space();
        return c === "{" ? object(depth + 1) : array(depth + 1);
      }
      if (c === '"') return string();
      for (const [word, literal] of [["true", true], ["false", false], ["null", null]]) {
        if (text.startsWith(word, at)) {
          at += word.length;
          return literal;
        }
      }
      return number();
    }

    function object(depth) {
      const out = {};
      if (text[at] === "}") {
        at++;
        return out;
      }
      for (;;) {
        if (text[at] !== '"') throw bad("expected a member name");
        const key = string();
        space();
        if (text[at] !== ":") throw bad("expected ':'");
        at++;
        space();
        const item = value(depth);
        if (has(out, key)) throw bad(`the member ${JSON.stringify(key)} twice in one object`);
        if (key === "__proto__") Object.defineProperty(out, key, { value: item, writable: true, enumerable: true, configurable: true });
        else out[key] = item;
        space();
        if (text[at] === "}") {
          at++;
          return out;
        }
        if (text[at] !== ",") throw bad("expected ',' or '}'");
        at++;
        space();
      }
    }

    function array(depth) {
      const out = [];
      if (text[at] === "]") {
        at++;
        return out;
      }
      for (;;) {
        out.push(value(depth));
        space();
        if (text[at] === "]") {
          at++;
          return out;
        }
        if (text[at] !== ",") throw bad("expected ',' or ']'");
        at++;
        space();
      }
    }

    space();
    const result = value(0);
    space();
    if (at !== text.length) throw bad("extra data after the value");
    return result;
  }

  // ----- JSON values as Python sees them ---------------------------------------------

  const isFloat = (v) => v instanceof Number;
  const isInt = (v) => typeof v === "number" && Number.isInteger(v);
  const isStr = (v) => typeof v === "string";
  const isDict = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && !isFloat(v);
  const has = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);

  function num(v) {
    if (typeof v === "number") return v;
    if (typeof v === "boolean") return v ? 1 : 0;
    if (isFloat(v)) return v.valueOf();
    return null;
  }

  /* Python ==, for JSON values and decoded Avro values (True == 1 == 1.0). */
  function pyEq(a, b) {
    const na = num(a);
    const nb = num(b);
    if (na !== null || nb !== null) return na !== null && nb !== null && na === nb;
    if (a === null || b === null || a === undefined || b === undefined) return a === b;
    if (isStr(a) || isStr(b)) return a === b;
    if (Array.isArray(a) || Array.isArray(b)) {
      return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
        a.every((x, i) => pyEq(x, b[i]));
    }
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => has(b, k) && pyEq(a[k], b[k]));
  }

  /* verify.same_json: equal as JSON values; booleans equal only booleans, numbers by value. */
  function sameJson(a, b) {
    if (typeof a === "boolean" || typeof b === "boolean") return a === b;
    if (isDict(a) && isDict(b)) {
      const ka = Object.keys(a);
      return ka.length === Object.keys(b).length && ka.every((k) => has(b, k) && sameJson(a[k], b[k]));
    }
    if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
    const na = num(a);
    const nb = num(b);
    if (na !== null && nb !== null) return na === nb;
    return (isStr(a) || a === null) && a === b;
  }

  /* Python orders str by code point; JS by UTF-16 unit. */
  function pyCompare(a, b) {
    const x = Array.from(a, (c) => c.codePointAt(0));
    const y = Array.from(b, (c) => c.codePointAt(0));
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  }

  // ----- bytes ------------------------------------------------------------------------

  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  function bytesEqual(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

  function toHex(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
    return s;
  }

  function strictHex32(s) {
    if (typeof s !== "string" || !/^[0-9a-f]{64}$/.test(s)) return null;
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
    return out;
  }

  /* bytes.fromhex: pairs of hex digits, ASCII whitespace allowed between pairs. */
  function laxHex(s) {
    const out = [];
    const space = " \t\n\r\v\f";
    let i = 0;
    while (i < s.length) {
      if (space.includes(s[i])) {
        i++;
        continue;
      }
      const pair = s.slice(i, i + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(pair)) return null;
      out.push(parseInt(pair, 16));
      i += 2;
    }
    return new Uint8Array(out);
  }

  function hex32Field(value, what) {
    const raw = strictHex32(value);
    if (raw === null) throw new BundleError("bundle_format", `${what} must be 64 lowercase hex characters`);
    return raw;
  }

  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const B64_VALUE = new Int8Array(128).fill(-1);
  for (let i = 0; i < 64; i++) B64_VALUE[B64.charCodeAt(i)] = i;

  /* base64.b64decode(s, validate=True) of CPython 3.11 (binascii strict mode). */
  function b64decode(s) {
    if (/[^\x00-\x7f]/.test(s) || s[0] === "=") return null;
    const out = [];
    let quad = 0;
    let left = 0;
    let pads = 0;
    let padding = false;
    for (let i = 0; i < s.length; i++) {
      if (s[i] === "=") {
        padding = true;
        if (quad >= 2 && quad + ++pads >= 4) return i + 1 < s.length ? null : new Uint8Array(out);
        continue;
      }
      const v = B64_VALUE[s.charCodeAt(i)];
      if (v < 0 || padding) return null;
      pads = 0;
      if (quad === 0) left = v;
      else if (quad === 1) out.push(((left << 2) | (v >> 4)) & 0xff), (left = v & 0x0f);
      else if (quad === 2) out.push(((left << 4) | (v >> 2)) & 0xff), (left = v & 0x03);
      else out.push(((left << 6) | v) & 0xff);
      quad = (quad + 1) % 4;
    }
    return quad === 0 ? new Uint8Array(out) : null;
  }

  function b64encode(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
      s += i + 1 < bytes.length ? B64[(n >> 6) & 63] : "=";
      s += i + 2 < bytes.length ? B64[n & 63] : "=";
    }
    return s;
  }

  /* checkpoint.py's _b64decode: canonical padded base64 (one spelling), not empty. */
  function b64note(s) {
    const raw = b64decode(s);
    return raw !== null && s.length > 0 && b64encode(raw) === s ? raw : null;
  }

  // ----- Avro single-object encoding (streams/avro.py, streams/schemas/*.avsc) ---------

  // Generated from streams/schemas; tests/server/test_parity.py checks it is current.
  /* AVRO-SCHEMAS-BEGIN */
  const AVRO_SCHEMAS = {"e84d3a78de05c726":{"name":"custody_event","version":1,"fields":[["event_id","string"],["item_id","string"],["kind","string"],["party_id","string"],["device_id","string"],["location","string"],["occurred_at",{"type":"long","logicalType":"timestamp-micros"}],["counterparty",["null","string"],null],["tag_uid",["null","string"],null],["brand",["null","string"],null],["model",["null","string"],null],["serial",["null","string"],null],["verdict",["null","string"],null],["certificate",["null","string"],null],["buyer_ref",["null","string"],null],["reason",["null","string"],null],["attributes",{"type":"map","values":"string"},{}]]},"faeb100ba3e975df":{"name":"custody_event","version":2,"fields":[["event_id","string"],["item_id","string"],["kind","string"],["party_id","string"],["device_id","string"],["location","string"],["occurred_at",{"type":"long","logicalType":"timestamp-micros"}],["counterparty",["null","string"],null],["tag_uid",["null","string"],null],["brand",["null","string"],null],["model",["null","string"],null],["serial",["null","string"],null],["verdict",["null","string"],null],["certificate",["null","string"],null],["buyer_ref",["null","string"],null],["reason",["null","string"],null],["attributes",{"type":"map","values":"string"},{}],["latitude",["null","double"],null],["longitude",["null","double"],null]]},"9ab99368d3e84d54":{"name":"custody_event","version":3,"fields":[["event_id","string"],["item_id","string"],["kind","string"],["party_id","string"],["device_id","string"],["location","string"],["occurred_at",{"type":"long","logicalType":"timestamp-micros"}],["counterparty",["null","string"],null],["tag_uid",["null","string"],null],["brand",["null","string"],null],["model",["null","string"],null],["serial",["null","string"],null],["verdict",["null","string"],null],["certificate",["null","string"],null],["buyer_ref",["null","string"],null],["reason",["null","string"],null],["attributes",{"type":"map","values":"string"},{}],["latitude",["null","double"],null],["longitude",["null","double"],null],["declared_event_id",["null","string"],null],["error_reason",["null","string"],null],["corrective_event_ids",{"type":"array","items":"string"},[]]]},"cbc31deb5e24f92d":{"name":"custody_event","version":4,"fields":[["event_id","string"],["item_id","string"],["kind","string"],["party_id","string"],["device_id","string"],["location","string"],["occurred_at",{"type":"long","logicalType":"timestamp-micros"}],["counterparty",["null","string"],null],["tag_uid",["null","string"],null],["brand",["null","string"],null],["model",["null","string"],null],["serial",["null","string"],null],["verdict",["null","string"],null],["certificate",["null","string"],null],["buyer_ref",["null","string"],null],["reason",["null","string"],null],["attributes",{"type":"map","values":"string"},{}],["latitude",["null","double"],null],["longitude",["null","double"],null],["declared_event_id",["null","string"],null],["error_reason",["null","string"],null],["corrective_event_ids",{"type":"array","items":"string"},[]],["commitments",{"type":"map","values":"string"},{}],["claim_salt",["null","string"],null],["claim_digest",["null","string"],null]]},"59961892c1c1d9c7":{"name":"signed_envelope","version":1,"fields":[["party_id","string"],["device_id","string"],["body","bytes"],["signature","bytes"]]},"404ce0a3034b7b59":{"name":"owner_statement","version":1,"fields":[["statement_id","string"],["item_id","string"],["kind","string"],["owner_key","string"],["after_version","long"],["occurred_at",{"type":"long","logicalType":"timestamp-micros"}],["claim_code",["null","string"],null],["claim_salt",["null","string"],null],["claim_digest",["null","string"],null],["reason",["null","string"],null],["consignee",["null","string"],null]]}};
  /* AVRO-SCHEMAS-END */

  class AvroError extends Error {}


  class AvroReader {
    constructor(bytes) {
      this.bytes = bytes;
      this.at = 0;
    }

    byte() {
      if (this.at >= this.bytes.length) throw new AvroError("unexpected end of data");
      return this.bytes[this.at++];
    }

    /*
     * A zig-zag varint in its canonical spelling: minimal (no redundant top group) and at
     * most 10 bytes holding 64 bits (the tenth byte is 1). docs/proof-bundle.md §4.7.
     */
    long() {
      // Up to 7 bytes (49 bits) is exact in a Number.
      let small = 0;
      for (let i = 0, scale = 1; i < 7; i++, scale *= 128) {
        const b = this.byte();
        small += (b & 0x7f) * scale;
        if (!(b & 0x80)) {
          if (b === 0 && i > 0) throw new AvroError("a varint with a redundant group (not minimal)");
          return BigInt(small % 2 ? -(small + 1) / 2 : small / 2);
        }
      }
      let n = BigInt(small);
      for (let shift = 49n; ; shift += 7n) {
        const b = this.byte();
        if (shift === 63n && b > 1) throw new AvroError("a varint longer than 10 bytes or beyond 64 bits");
        n |= BigInt(b & 0x7f) << shift;
        if (!(b & 0x80)) {
          if (b === 0) throw new AvroError("a varint with a redundant group (not minimal)");
          return BigInt.asIntN(64, (n >> 1n) ^ -(n & 1n));
        }
      }
    }

    raw() {
      const size = this.long();
      if (size < 0n || size > BigInt(this.bytes.length - this.at)) throw new AvroError(`expected ${size} bytes`);
      const out = this.bytes.slice(this.at, this.at + Number(size));
      this.at += Number(size);
      return out;
    }

    string() {
      try {
        return strictUtf8.decode(this.raw());
      } catch (e) {
        if (e instanceof AvroError) throw e;
        throw new AvroError("string is not UTF-8");
      }
    }

    double() {
      if (this.at + 8 > this.bytes.length) throw new AvroError("cannot read double");
      const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, 8);
      this.at += 8;
      return view.getFloat64(0, true);
    }

    read(type) {
      if (Array.isArray(type)) {
        const index = this.long(); // 0: null, 1: the other branch; never counted from the end
        if (!(index >= 0n && index < BigInt(type.length))) throw new AvroError("union index out of range");
        return this.read(type[Number(index)]);
      }
      if (typeof type === "object") {
        if (type.type === "map") return this.map(type.values);
        if (type.type === "array") return this.array(type.items);
        if (type.logicalType === "timestamp-micros") return timestampMicros(this.long());
        return this.read(type.type);
      }
      if (type === "null") return null;
      if (type === "string") return this.string();
      if (type === "bytes") return this.raw();
      if (type === "double") return this.double();
      if (type === "long") return this.long();
      throw new AvroError(`type ${type} is not supported`);
    }

    /* An array in its canonical spelling: one block of positive count (none if empty),
     * then 0 (custody_event v3's corrective ids). */
    array(items) {
      const out = [];
      const count = this.long();
      if (count === 0n) return out;
      if (count < 0n) throw new AvroError("an array block with a negative count (not canonical)");
      for (let i = 0n; i < count; i++) out.push(this.read(items));
      if (this.long() !== 0n) throw new AvroError("an array in several blocks (not canonical)");
      return out;
    }

    /* A map in its canonical spelling: one block of positive count (none if empty), then 0. */
    map(values) {
      const out = Object.create(null);
      const count = this.long();
      if (count === 0n) return out;
      if (count < 0n) throw new AvroError("a map block with a negative count (not canonical)");
      for (let i = 0n; i < count; i++) {
        const key = this.string();
        if (has(out, key)) throw new AvroError("a map with a repeated key (not canonical)");
        out[key] = this.read(values);
      }
      if (this.long() !== 0n) throw new AvroError("a map in several blocks (not canonical)");
      return out;
    }
  }

  const MIN_MICROS = -62135596800000000n; // datetime.min, 0001-01-01
  const MAX_MICROS = 253402300799999999n; // datetime.max

  /* datetime.isoformat() of the UTC instant, as the Python verifier compares it. */
  function timestampMicros(micros) {
    // Python cannot read such a body either (fastavro raises OverflowError).
    if (micros < MIN_MICROS || micros > MAX_MICROS) throw new AvroError("date value out of range");
    let seconds = micros / 1000000n;
    let fraction = micros % 1000000n;
    if (fraction < 0n) {
      fraction += 1000000n;
      seconds -= 1n;
    }
    const date = new Date(Number(seconds) * 1000);
    const year = String(date.getUTCFullYear()).padStart(4, "0");
    const rest = date.toISOString().slice(-20, -5); // -MM-DDTHH:MM:SS
    const frac = fraction ? "." + String(fraction).padStart(6, "0") : "";
    return `${year}${rest}${frac}+00:00`;
  }

  /* registry.decode(name, message): the record, resolved to the newest version of ``name``. */
  function avroDecode(name, message) {
    if (message.length < 10 || message[0] !== 0xc3 || message[1] !== 0x01) {
      throw new AvroError("message does not start with the Avro single-object marker");
    }
    const fingerprint = toHex(message.slice(2, 10));
    const writer = AVRO_SCHEMAS[fingerprint];
    if (!writer) throw new AvroError(`no known schema has fingerprint ${fingerprint}`);
    if (writer.name !== name) throw new AvroError(`expected a ${name} message, found ${writer.name} v${writer.version}`);
    const reader = new AvroReader(message.slice(10));
    const record = {};
    try {
      for (const [field, type] of writer.fields) record[field] = reader.read(type);
    } catch (e) {
      if (e instanceof AvroError) throw new AvroError(`${name} v${writer.version} body cannot be read: ${e.message}`);
      throw e;
    }
    if (reader.at !== reader.bytes.length) throw new AvroError(`trailing bytes after the ${name} body`);
    const latest = Object.values(AVRO_SCHEMAS).filter((s) => s.name === name)
      .reduce((a, b) => (a.version >= b.version ? a : b));
    const out = {};
    for (const [field, , fallback] of latest.fields) {
      out[field] = has(record, field) ? record[field] : fallback === undefined ? null
        : Array.isArray(fallback) ? [...fallback] : fallback;
    }
    return out;
  }

  /* Avro's zig-zag varint, minimal length, of a non-negative length. */
  function avroLength(n) {
    const out = [];
    let z = n * 2;
    while (z > 0x7f) {
      out.push((z % 128) | 0x80);
      z = Math.floor(z / 128);
    }
    out.push(z);
    return Uint8Array.from(out);
  }

  /* verify.read_envelope: decode a signed envelope, accepting only its canonical encoding. */
  function readEnvelope(message) {
    const record = avroDecode("signed_envelope", message);
    if (record.signature.length !== 64) throw new AvroError("an Ed25519 signature is 64 bytes");
    const parts = [message.slice(0, 10)];
    for (const value of [utf8.encode(record.party_id), utf8.encode(record.device_id), record.body, record.signature]) {
      parts.push(avroLength(value.length), value);
    }
    if (!bytesEqual(concat(parts), message)) throw new AvroError("the envelope is not canonically encoded");
    return record;
  }

  Object.assign(parts, {
    AvroError, BundleError, MAX_INT, avroDecode, b64decode, b64encode, b64note, bytesEqual,
    concat, has, hex32Field, isDict, isInt, isStr, JsonError, laxHex, LONE_SURROGATE,
    MAX_DEPTH, parseStrictJson,
    pyCompare, pyEq, readEnvelope, sameJson, strictHex32, strictUtf8, toHex, utf8,
  });
})((globalThis.AssayVerifierParts = globalThis.AssayVerifierParts || {}));
