/*
 * The buyer's passport: what a verifier Outcome (docs/verifier.md, "The result the page
 * renders") means in a person's words. No DOM here: page.js renders what this returns.
 *
 * Only what the check proved is stated as fact: party names only when the result lists
 * them as proven (else the party id), completeness only when the result says "complete",
 * witnesses only from the result's own verdict. No buyer reference is ever put in a sentence.
 */
(function (global) {
  "use strict";

  const kinds = () => (global.AssayKinds && global.AssayKinds.kinds) || {};

  // ----- the item's state, rebuilt from the verified events (domain/state.py) ----------

  /* The declarations in error of the story: declared event id -> the declaration. */
  function declarations(story) {
    const out = new Map();
    for (const e of story) {
      const r = e.kind === "E" ? kinds()[e.summary.kind] : null;
      if (r && r.withdraws && !out.has(e.summary.declared_event_id)) out.set(e.summary.declared_event_id, e.summary);
    }
    return out;
  }

  /* The item's corrected view (domain/state.py): ItemState.evolve over the standing custody
   * events (none declared in error), driven by the kinds table (kinds.js). */
  function currentState(story) {
    const s = { status: "unregistered", holder: null, location: null };
    const declared = declarations(story);
    for (const e of story) {
      if (e.kind !== "E") continue;
      const c = e.summary;
      const r = kinds()[c.kind];
      if (!r || r.withdraws || declared.has(c.event_id)) continue;
      if (r.creates) s.commissioning = c;
      if (r.sets.includes("verdict")) s.inspection = c;
      if (r.status) s.status = r.status;
      if (r.holder === "actor") s.holder = c.party_id;
      else if (r.holder === "none") s.holder = null;
      if (r.location === "event") s.location = c.location;
      else if (r.location === "none") s.location = null;
      if (r.clears_parties) s.shipper = s.consignee = s.soldBy = null;
      if (r.opens_transit) Object.assign(s, { shipper: c.party_id, consignee: c.counterparty });
      if (r.status === "sold") Object.assign(s, { soldBy: c.party_id, soldAt: c.occurred_at });
      if (r.status === "retired") Object.assign(s, { retired: c });
    }
    return s;
  }

  /* The flags in the story, one per signal (the first time it was raised). */
  function flagsOf(story) {
    const seen = new Map();
    for (const e of story) {
      if (e.kind === "P" && !seen.has(e.summary.flag)) seen.set(e.summary.flag, e);
    }
    return Array.from(seen.values());
  }

  /* A party as the result proves it: its proven name, else its id. */
  function party(result, id) {
    const p = result && result.parties && id ? result.parties[id] : null;
    return p && p.proven === true && typeof p.name === "string" && p.name ? p.name : id;
  }

  // ----- sentences ---------------------------------------------------------------------

  function product(c) {
    return [c.brand, c.model].filter(Boolean).join(" ");
  }

  /* What one signed custody event says, from the catalogue's sentence for its kind; an
   * event declared in error is named by its version in story when it is there. */
  function eventSentence(w, c, result, story) {
    // An owner's statement (verifier-owner.js): the owner by key fingerprint, never a name.
    if (c.owner_statement === true && w.has(`owner_event.${c.kind}`)) {
      return w.t(`owner_event.${c.kind}`, { who: c.signer, to: party(result, c.consignee),
        reason: c.reason ? valueOf(w, "reason", c.reason) : null });
    }
    const known = Object.prototype.hasOwnProperty.call(kinds(), c.kind) && w.has(`event.${c.kind}`);
    const declared = c.declared_event_id ? (story || []).find((e) => e.kind === "E" && e.summary.event_id === c.declared_event_id) : null;
    return w.t(known ? `event.${c.kind}` : "event.unknown", {
      declared: declared ? declared.version : c.declared_event_id,
      error_reason: c.error_reason ? valueOf(w, "error_reason", c.error_reason) : null,
      who: party(result, c.party_id),
      to: party(result, c.counterparty),
      product: product(c),
      serial: c.serial,
      tag: c.tag_uid,
      location: c.location,
      verdict: c.verdict ? valueOf(w, "verdict_value", c.verdict) : null,
      certificate: c.certificate,
      reason: c.reason ? valueOf(w, "reason", c.reason) : null,
      kind: c.kind,
    });
  }

  function valueOf(w, family, value) {
    return w.has(`${family}.${value}`) ? w.t(`${family}.${value}`) : value;
  }

  function flagSentence(w, signal) {
    return w.has(`flag.${signal}`) ? w.t(`flag.${signal}`) : w.t("flag.unknown", { signal });
  }

  /* Plain-words families of the verifier's step codes (docs/proof-bundle.md §6). */
  const FAMILIES = {
    format: ["bundle_format", "checkpoint_format", "checkpoint_version", "header_format", "envelope_format",
      "platform_body"],
    platform_key: ["checkpoint_signature", "checkpoint_origin", "log_signature"],
    key: ["key_file"],
    device: ["device_key", "device_signature", "envelope_device", "owner_signature"],
    device_window: ["device_not_enrolled", "device_revoked"],
    tampered: ["checkpoint_head", "checkpoint_inclusion", "block_link", "acc_index", "acc_proof", "acc_inclusion",
      "header_link", "history_gap", "merkle_index", "merkle_path_entry", "merkle_path_shape",
      "merkle_root", "item_chain", "leaf_hash", "evidence_hash", "evidence_mismatch",
      "item_mismatch", "summary_mismatch", "party_proof", "device_proof", "owner_chain"],
    incomplete: ["history_incomplete"],
    outdated: ["newer_events", "checkpoint_consistency"],
    absence: ["absence_claimed_for_present_item", "absence_proof"],
    witness: ["witness_quorum"],
    policy: ["witness_policy"],
    stale: ["checkpoint_stale"],
    // The page's own check (page.js): a valid proof, but of another id than the one asked for.
    wrong_item: ["wrong_item"],
  };
  const PREFIXES = [["map_", "tampered"], ["cosignature_", "witness"], ["absence_", "absence"]];

  function family(step) {
    for (const [name, steps] of Object.entries(FAMILIES)) if (steps.includes(step)) return name;
    for (const [prefix, name] of PREFIXES) if (String(step).startsWith(prefix)) return name;
    return "other";
  }

  // ----- the verdict -------------------------------------------------------------------

  const DEFAULT_MAX_AGE_SECONDS = 24 * 3600;

  /*
   * The verdict of a verifier Outcome: {state, tone, title, lines}. ctx: {now (ms),
   * maxAgeSeconds, keySource ("deployment" | "remembered" | "tofu" | "manual"), keyChanged,
   * offlineSince (ISO time the saved proof was first checked), newerCheckpoint (size),
   * policyPinned, policySource ("deployment" | "remembered" | "tofu"), policyChanged}.
   */
  function verdict(w, outcome, ctx) {
    const c = ctx || {};
    if (!outcome.ok) return failed(w, outcome, c);
    const r = outcome.result;
    const lines = [];
    const warnings = [];
    let state = null;
    const raise = (name, text) => {
      if (!state) state = name;
      warnings.push(text);
    };
    const story = r.story || [];
    const s = currentState(story);
    if (r.absent === true) {
      raise("absent", w.t("line.absent", { date: w.date(r.checkpoint_time) }));
    }
    const i = s.inspection;
    if (i && i.verdict === "counterfeit") {
      raise("counterfeit", w.t("line.counterfeit", { who: party(r, i.party_id), date: w.day(i.occurred_at) }));
    }
    if (s.status === "retired") {
      const reason = s.retired.reason;
      const key = w.has(`retired.${reason}`) ? `retired.${reason}` : "retired.other";
      raise("retired", w.t(key, { who: party(r, s.retired.party_id), date: w.day(s.retired.occurred_at) }));
    }
    for (const flag of flagsOf(story)) raise("flagged", flagSentence(w, flag.summary.flag));
    const sealed = r.checkpoint_time && global.AssayI18n ? global.AssayI18n.toDate(r.checkpoint_time) : null;
    const age = sealed ? (c.now - sealed.getTime()) / 1000 : null;
    const maxAge = c.maxAgeSeconds || DEFAULT_MAX_AGE_SECONDS;
    if (r.absent !== true) {
      if (age !== null && age > maxAge) {
        raise("stale", w.t("line.stale", { age: w.age(r.checkpoint_time, c.now), date: w.date(r.checkpoint_time) }));
      } else if (r.completeness === "complete" && r.checkpoint_time) {
        lines.push(w.t("line.complete", { age: w.age(r.checkpoint_time, c.now), date: w.date(r.checkpoint_time) }));
      } else if (r.completeness === "complete") {
        lines.push(w.t("line.complete_undated"));
      } else {
        lines.push(w.t("line.inclusion_only"));
      }
    }
    if (r.witnesses) {
      const v = r.witnesses;
      const names = (v.cosigned || []).map((x) => x.name).join(", ");
      if (v.quorum_met) lines.push(w.t("line.witnessed", { count: v.cosigned.length, total: v.total, names }));
      else raise("unwitnessed", w.t("line.unwitnessed", { count: (v.cosigned || []).length, required: v.required }));
    } else if (c.policyPinned) {
      raise("unwitnessed", w.t("line.witness_unchecked"));
    }
    if (r.witnesses && (c.policySource === "tofu" || c.policySource === "remembered")) {
      lines.push(w.t(c.policyChanged ? "line.witness_policy_changed" : "line.witness_policy_tofu"));
    }
    if (!r.absent && !s.commissioning) raise("flagged", w.t("line.never_commissioned"));
    if (i && i.verdict === "genuine") lines.unshift(w.t("line.authenticated", { who: party(r, i.party_id), date: w.day(i.occurred_at) }));
    else if (i && i.verdict === "inconclusive") lines.unshift(w.t("line.inconclusive", { who: party(r, i.party_id), date: w.day(i.occurred_at) }));
    else if (!i && s.commissioning) lines.unshift(w.t("line.not_authenticated"));
    const corrected = declarations(story).size;
    if (corrected) lines.push(w.t("line.corrected", { count: corrected }));
    if (r.pending && r.pending.length) lines.push(w.t("line.pending", { count: r.pending.length }));
    // An absence holds at its checkpoint only: since then the id may have been registered.
    if (c.newerCheckpoint) lines.push(w.t(r.absent === true ? "line.newer_checkpoint_absent" : "line.newer_checkpoint", { size: c.newerCheckpoint }));
    trustLines(w, c, lines, warnings);
    if (!state) state = i && i.verdict === "genuine" ? "genuine" : i && i.verdict === "inconclusive" ? "inconclusive" : "registered";
    const tone = { genuine: "ok", registered: "ok", inconclusive: "warn", stale: "warn", unwitnessed: "warn" }[state] || "bad";
    return { state, tone, title: w.t(`verdict.${state}`), lines: warnings.concat(lines) };
  }

  function trustLines(w, c, lines, warnings) {
    if (c.keyChanged) warnings.push(w.t("line.key_changed"));
    if (c.keySource === "tofu") lines.push(w.t("line.tofu"));
    if (c.offlineSince) lines.push(w.t("line.offline", { date: w.date(c.offlineSince) }));
  }

  function failed(w, outcome, c) {
    const f = family(outcome.step);
    const lines = [w.t(`failure.${f}`)];
    if (outcome.version) lines.push(w.t("line.failed_at", { version: outcome.version }));
    const warnings = [];
    trustLines(w, c, lines, warnings);
    const state = f === "stale" ? "stale" : "failed";
    return { state, tone: state === "stale" ? "warn" : "bad", title: w.t(`verdict.${state}`), lines: warnings.concat(lines) };
  }

  /* A verdict with no outcome behind it: no_record, not_anchored, unreachable, need_key,
   * checking, idle. */
  function notice(w, state, params) {
    const tone = { no_record: "bad", checking: "busy", idle: "idle", need_key: "idle" }[state] || "warn";
    const line = w.has(`line.${state}`) ? [w.t(`line.${state}`, params)] : [];
    return { state, tone, title: w.t(`verdict.${state}`), lines: line };
  }

  // ----- the item's facts --------------------------------------------------------------

  /* [{term, value, mono}] for the passport card: product, status, owner, item id. */
  function facts(w, result, now) {
    const out = [];
    const s = currentState(result.story || []);
    const c = s.commissioning;
    if (c) {
      out.push({ term: w.t("fact.product"), value: product(c) || "—" });
      out.push({ term: w.t("fact.serial"), value: c.serial || "—", mono: true });
    }
    if (!result.absent) out.push({ term: w.t("fact.status"), value: statusText(w, s, result) });
    if (result.owner && result.owner.fingerprint) {
      out.push({ term: w.t("fact.owner"), value: w.t("owner.fingerprint", { fingerprint: result.owner.fingerprint, date: w.day(result.owner.since) }), mono: true, copy: result.owner.fingerprint });
    }
    if (c && c.tag_uid) out.push({ term: w.t("fact.tag"), value: c.tag_uid, mono: true });
    out.push({ term: w.t("fact.item_id"), value: result.item_id, mono: true, copy: result.item_id });
    if (result.checkpoint_time) out.push({ term: w.t("fact.as_of"), value: `${w.date(result.checkpoint_time)} (${w.age(result.checkpoint_time, now)})` });
    return out;
  }

  function statusText(w, s, r) {
    switch (s.status) {
      case "in_custody": return w.t("status.in_custody", { who: party(r, s.holder), location: s.location });
      case "in_transit": return w.t("status.in_transit", { from: party(r, s.shipper), to: party(r, s.consignee) });
      case "sold": return w.t("status.sold", { who: party(r, s.soldBy), date: w.day(s.soldAt) });
      case "retired": return w.t("status.retired", { reason: s.retired.reason ? valueOf(w, "reason", s.retired.reason) : null });
      default: return w.t(`status.${s.status}`);
    }
  }

  global.AssayPassport = {
    DEFAULT_MAX_AGE_SECONDS, FAMILIES, currentState, declarations, eventSentence, facts, family,
    flagSentence, flagsOf, notice, party, verdict,
  };
})(globalThis);
