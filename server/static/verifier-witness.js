/*
 * Assay verifier, witnesses: cosignature/v1 lines (witness/cosignature.py), witness
 * policies and their quorum (witness/policy.py), as docs/witnesses.md specifies them.
 * Ed25519 is the same WebCrypto check the checkpoint's own signature goes through.
 */
(function (parts) {
  "use strict";

  const { BundleError, b64note, bytesEqual, concat, ed25519Verify, parseVerifierKey, publicKeyProblem, sha256, toHex, utf8 } = parts;

  const FUTURE_TOLERANCE_SECONDS = 300;
  const MAX_ENTRIES = 256;
  const NONE = "none";
  const MAX_TIMESTAMP = 2n ** 63n - 1n;

  // ----- cosignature/v1 (witness/cosignature.py) -------------------------------------

  async function cosignatureKeyId(name, publicKey) {
    return (await sha256(utf8.encode(name), Uint8Array.of(0x0a, 0x04), publicKey)).slice(0, 4);
  }

  /* A witness vkey: <name>+<8 hex key id>+base64(0x04 || public key). */
  async function parseWitnessKey(text) {
    const bad = (m) => new BundleError("cosignature_key", m);
    const all = text.trim();
    const first = all.indexOf("+");
    const second = first < 0 ? -1 : all.indexOf("+", first + 1);
    if (second < 0) throw bad("a vkey is <name>+<key id>+<key>");
    const name = all.slice(0, first);
    const idHex = all.slice(first + 1, second);
    const raw = b64note(all.slice(second + 1));
    if (raw === null || raw.length !== 33) throw bad("vkey material is not base64 of 33 bytes");
    if (raw[0] !== 0x04) throw bad(`vkey type 0x${raw[0].toString(16).padStart(2, "0")} is not cosignature/v1 (0x04)`);
    if (!name || /[+\s\x00-\x1f\x7f]/.test(name)) throw bad(`${JSON.stringify(name)} is not a valid key name`);
    const publicKey = raw.slice(1);
    const problem = publicKeyProblem(publicKey);
    if (problem !== null) throw bad(`unusable witness key: ${problem}`);
    const keyId = await cosignatureKeyId(name, publicKey);
    if (!/^[0-9a-f]{8}$/.test(idHex) || idHex !== toHex(keyId)) {
      throw bad(`vkey id ${JSON.stringify(idHex)} does not match the key (expected ${toHex(keyId)})`);
    }
    return { name, publicKey, keyId };
  }

  /* A parsed signature line ({name, keyId, signature}) by ``key``: its timestamp (BigInt),
   * or a BundleError with the reason Python's check_cosignature gives. */
  async function checkCosignature(key, body, line, nowSeconds) {
    const raw = line.signature;
    if (raw.length !== 72) {
      throw new BundleError("cosignature_format", `a cosignature/v1 is 72 bytes after the key id, this one ${raw.length}`);
    }
    const timestamp = new DataView(raw.buffer, raw.byteOffset, 8).getBigUint64(0);
    if (timestamp > MAX_TIMESTAMP) throw new BundleError("cosignature_format", `timestamp ${timestamp} exceeds 2**63-1`);
    const message = concat([utf8.encode(`cosignature/v1\ntime ${timestamp}\n`), utf8.encode(body)]);
    if (!(await ed25519Verify(key.publicKey, message, raw.slice(8)))) {
      throw new BundleError("cosignature_signature", `cosignature by ${key.name} at time ${timestamp} does not verify`);
    }
    if (Number(timestamp) > nowSeconds + FUTURE_TOLERANCE_SECONDS) {
      throw new BundleError("cosignature_future", `cosignature by ${key.name} is dated ${timestamp}, after now + ${FUTURE_TOLERANCE_SECONDS} s`);
    }
    return timestamp;
  }

  /* check_cosignature(WitnessVerifier.from_text(vkey), body, line, now): one line's text. */
  async function checkCosignatureLine(vkey, body, lineText, nowSeconds) {
    const key = await parseWitnessKey(vkey);
    let line;
    try {
      [line] = parts.splitNote(`${body}\n${lineText.endsWith("\n") ? lineText : `${lineText}\n`}`).signatures;
    } catch (e) {
      throw new BundleError("cosignature_format", e.message);
    }
    if (line.name !== key.name || !bytesEqual(line.keyId, key.keyId)) {
      throw new BundleError("cosignature_key", `line by ${line.name} (${toHex(line.keyId)}) is not by ${key.name} (${toHex(key.keyId)})`);
    }
    return checkCosignature(key, body, line, nowSeconds);
  }

  // ----- policies (witness/policy.py) -------------------------------------------------

  async function parsePolicy(text) {
    const logs = [];
    const witnesses = new Map();
    const groups = new Map([[NONE, { threshold: 0, members: [] }]]);
    const memberOf = new Map();
    let quorum = null;
    const lines = String(text).split("\n");
    for (const [i, raw] of lines.entries()) {
      const bad = (m) => Object.assign(new BundleError("witness_policy", `line ${i + 1}: ${m}`), { line: i + 1 });
      const ctl = /[\x00-\x08\x0a-\x1f\x7f]/.exec(raw);
      if (ctl) throw bad(`character 0x${ctl[0].charCodeAt(0).toString(16).padStart(2, "0")} is not allowed`);
      const fields = raw.split(/[ \t]+/).filter((f) => f);
      if (!fields.length || fields[0].startsWith("#")) continue;
      const [keyword, ...args] = fields;
      if (logs.length + witnesses.size + groups.size > MAX_ENTRIES) throw bad(`more than ${MAX_ENTRIES} logs, witnesses and groups`);
      const defined = (name) => witnesses.has(name) || groups.has(name);
      if (keyword === "log") {
        if (args.length < 1 || args.length > 2) throw bad("log takes a vkey and an optional URL");
        let key;
        try {
          key = await parseVerifierKey(args[0]);
        } catch (e) {
          throw bad(`log vkey: ${e.message}`);
        }
        if (logs.some((l) => bytesEqual(l.publicKey, key.publicKey))) throw bad("duplicate log key");
        logs.push(key);
      } else if (keyword === "witness") {
        if (args.length < 2 || args.length > 3) throw bad("witness takes a name, a vkey and an optional URL");
        if (defined(args[0])) throw bad(`name '${args[0]}' is already defined`);
        let key;
        try {
          key = await parseWitnessKey(args[1]);
        } catch (e) {
          throw bad(`witness ${args[0]}: ${e.message}`);
        }
        if ([...witnesses.values()].some((w) => bytesEqual(w.publicKey, key.publicKey))) throw bad(`witness ${args[0]}: duplicate witness key`);
        witnesses.set(args[0], key);
      } else if (keyword === "group") {
        if (args.length < 3) throw bad("group takes a name, a threshold and at least one member");
        const [name, k, ...members] = args;
        if (defined(name)) throw bad(`name '${name}' is already defined`);
        let threshold;
        if (k === "all") threshold = members.length;
        else if (k === "any") threshold = 1;
        else if (/^[1-9][0-9]{0,5}$/.test(k) && Number(k) <= members.length) threshold = Number(k);
        else throw bad(`threshold '${k}' is not all, any or 1..${members.length}`);
        for (const m of members) {
          if (m === NONE) throw bad("none cannot be a group member");
          if (!defined(m)) throw bad(`member '${m}' is not defined above`);
          if (memberOf.has(m)) throw bad(`'${m}' is already a member of '${memberOf.get(m)}'`);
          memberOf.set(m, name);
        }
        groups.set(name, { threshold, members });
      } else if (keyword === "quorum") {
        if (quorum !== null) throw bad("a policy has exactly one quorum line");
        if (args.length !== 1) throw bad("quorum takes one name");
        if (!defined(args[0])) throw bad(`quorum '${args[0]}' is not defined above`);
        quorum = args[0];
      } else {
        throw bad(`unknown keyword '${keyword}'`);
      }
    }
    if (quorum === null) throw new BundleError("witness_policy", "the policy has no quorum line");
    return { logs, witnesses, groups, quorum };
  }

  function satisfied(name, policy, counted) {
    if (name === NONE) return true;
    if (policy.witnesses.has(name)) return counted.has(name);
    const group = policy.groups.get(name);
    return group.members.filter((m) => satisfied(m, policy, counted)).length >= group.threshold;
  }

  /* How many cosignatures the quorum asks for at the top level (what the page shows). */
  function required(policy) {
    if (policy.quorum === NONE) return 0;
    return policy.witnesses.has(policy.quorum) ? 1 : policy.groups.get(policy.quorum).threshold;
  }

  /*
   * policy.evaluate on the checkpoint note: {quorum_met, total, required, cosigned:
   * [{name, time}], refused: [{witness, reason, detail}], ignored_lines}. Lines by keys the
   * policy does not name are ignored; a witness counts once (its latest valid timestamp).
   */
  async function evaluatePolicy(note, policy, nowSeconds) {
    const { text, signatures } = parts.splitNote(note);
    if (policy.logs.length) {
      const origin = text.slice(0, text.indexOf("\n"));
      let signed = false;
      for (const log of policy.logs.filter((l) => l.name === origin)) {
        for (const s of signatures) {
          if (s.name === log.name && bytesEqual(s.keyId, log.keyId) && (await ed25519Verify(log.publicKey, utf8.encode(text), s.signature))) signed = true;
        }
      }
      if (!signed) throw new BundleError("log_signature", `no valid signature by a policy log (${policy.logs.map((l) => l.name).join(", ")})`);
    }
    const counted = new Map();
    const refused = [];
    let ignored = 0;
    for (const line of signatures) {
      const entry = [...policy.witnesses.entries()].find(([, w]) => w.name === line.name && bytesEqual(w.keyId, line.keyId));
      if (!entry) {
        ignored += 1;
        continue;
      }
      try {
        const ts = await checkCosignature(entry[1], text, line, nowSeconds);
        if (!counted.has(entry[0]) || counted.get(entry[0]) < ts) counted.set(entry[0], ts);
      } catch (e) {
        if (!(e instanceof BundleError)) throw e;
        refused.push({ witness: entry[0], reason: e.step, detail: e.message });
      }
    }
    const names = [...counted.keys()].sort();
    return {
      quorum_met: satisfied(policy.quorum, policy, counted),
      total: policy.witnesses.size,
      required: required(policy),
      cosigned: names.map((name) => ({ name, time: Number(counted.get(name)) })),
      refused,
      ignored_lines: ignored,
    };
  }

  /*
   * `assay verify --witness-policy` for the page: the verdict of the policy
   * (``options.witnessPolicy``) on the bundle's checkpoint note. Where the CLI refuses a
   * bundle without quorum (witness_quorum), the page shows the verified history with the
   * quorum failure beside it (docs/verifier.md, state `unwitnessed`): ``message`` says why.
   * Rejects with witness_policy (a broken policy) or log_signature.
   */
  async function checkWitnesses(note, options) {
    const policy = await parsePolicy(options.witnessPolicy);
    const now = (options.now === undefined ? Date.now() : options.now) / 1000;
    const verdict = await evaluatePolicy(note, policy, now);
    const names = verdict.cosigned.map((c) => c.name);
    verdict.message = verdict.quorum_met
      ? `quorum ${policy.quorum} met by ${names.join(", ") || "nobody"}`
      : `quorum '${policy.quorum}' not met: cosigned by ${names.length} of ${verdict.total} witnesses (${names.join(", ") || "none"})`;
    return verdict;
  }

  Object.assign(parts, { checkCosignature, checkCosignatureLine, checkWitnesses, evaluatePolicy, parsePolicy, parseWitnessKey });
})(globalThis.AssayVerifierParts);
