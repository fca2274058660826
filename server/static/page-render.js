/*
 * Puts a passport on the page: the verdict on top, the item's facts below, and everything
 * technical folded under "How this was checked"; plus the printable certificate. All text
 * goes in through textContent, from the catalogues (passport.js builds the sentences).
 *
 * A view is {outcome?, notice?: {state, params}, ctx, itemId, key?: {text, source, since},
 * current?: {size} | {bad: true}, policy, checkedAt, qr?}.
 */
(function (global) {
  "use strict";

  const P = global.AssayPassport;
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const child of children) {
      if (child === null || child === undefined || child === "") continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /* A long value (id, key, fingerprint) that wraps anywhere, with a copy button. */
  function copyable(w, value, what) {
    const text = el("span", { class: "mono wrap" }, value);
    const button = el("button", { type: "button", class: "copy", "aria-label": w.t("action.copy_what", { what }) }, w.t("action.copy"));
    button.addEventListener("click", () => copy(w, value, text));
    return el("span", { class: "copyable" }, text, button);
  }

  /* To the clipboard; where the browser refuses (no permission, file://), the text is
   * selected so the buyer can copy it by hand. */
  async function copy(w, value, node) {
    try {
      await navigator.clipboard.writeText(value);
      $("copied").textContent = w.t("action.copied");
    } catch (e) {
      getSelection().selectAllChildren(node);
      $("copied").textContent = w.t("action.copy_failed");
    }
  }

  function list(node, lines) {
    node.replaceChildren(...lines.map((line) => el("li", {}, line)));
  }

  function factList(w, node, facts) {
    node.replaceChildren();
    for (const f of facts) {
      const value = f.copy ? copyable(w, f.value, f.term) : el("span", f.mono ? { class: "mono wrap" } : {}, f.value);
      node.append(el("dt", {}, f.term), el("dd", {}, value));
    }
  }

  // ----- the verdict -------------------------------------------------------------------

  function verdictOf(w, view) {
    return view.outcome ? P.verdict(w, view.outcome, view.ctx || {}) : P.notice(w, view.notice.state, view.notice.params);
  }

  function showVerdict(w, view, v) {
    const box = $("verdict");
    box.className = `verdict ${v.tone}`;
    box.dataset.verdict = v.state;
    box.dataset.tone = v.tone;
    box.dataset.step = (view.outcome && view.outcome.step) || "";
    $("verdict-title").textContent = v.title;
    list($("verdict-lines"), v.lines);
  }

  // ----- the item's facts and how it was checked ---------------------------------------

  function keyPhrase(w, key) {
    return key ? w.t(`key.${key.source}`) : w.t("key.none");
  }

  function checks(w, view) {
    const o = view.outcome;
    const out = [];
    if (!o.ok) {
      out.push(w.t("how.failed_step", { step: o.step }));
    } else {
      const r = o.result;
      if (!r.absent) {
        out.push(w.t("how.signatures", { count: r.events }));
        out.push(w.t("how.chain"));
      }
      out.push(w.t("how.checkpoint", { size: r.checkpoint_size, origin: r.origin, key: keyPhrase(w, view.key) }));
      if (r.absent) out.push(w.t("how.absent"));
      else out.push(w.t(r.completeness === "complete" ? "how.complete" : "how.inclusion_only"));
      if (r.witnesses) out.push(w.t("how.witnesses", { count: (r.witnesses.cosigned || []).length, total: r.witnesses.total, required: r.witnesses.required }));
      else out.push(w.t(view.policy ? "how.witness_unchecked" : "how.no_policy"));
      const sources = new Set((r.story || []).map((e) => e.keySource));
      out.push(w.t(sources.has("listed") ? "how.device_keys_listed"
        : sources.has("proven") ? "how.device_keys_proven" : "how.device_keys_pinned"));
      out.push(w.t(r.parties === undefined ? "how.names_unproven" : "how.names_proven"));
    }
    if (view.current && view.current.bad) out.push(w.t("how.latest_checkpoint_bad"));
    else if (view.current) out.push(w.t("how.latest_checkpoint", { size: view.current.size }));
    out.push(w.t("how.time", { ms: w.number(Math.round(o.ms * 10) / 10) }));
    return out;
  }

  function eventEntry(w, e, result, story) {
    const anchor = w.t("timeline.anchored", { version: e.version, height: e.height, leaf: e.leafIndex, sealed: w.date(e.sealedAt) });
    const keyNote = (source) => w.t(source === "pinned" ? "device_key.pinned"
      : source === "proven" ? "device_key.proven" : "device_key.listed");
    if (e.kind === "P") {
      const ev = e.summary.evidence;
      const meta = [];
      if (ev) meta.push(w.t("timeline.evidence", { what: P.eventSentence(w, ev, result, story), device: e.device, key: keyNote(e.keySource), location: ev.location }));
      meta.push(w.t("timeline.platform_note", { detail: e.summary.detail }));
      meta.push(anchor);
      return el("li", { class: "flag" },
        el("div", { class: "when" }, ev ? w.date(ev.occurred_at) : w.t("timeline.flag_raised")),
        el("div", { class: "what" }, P.flagSentence(w, e.summary.flag)),
        ...meta.map((m) => el("div", { class: "meta" }, m)));
    }
    const c = e.summary;
    const meta = [w.t("timeline.where", { location: c.location })];
    if (c.latitude != null && c.longitude != null) meta.push(w.t("timeline.position", { latitude: c.latitude, longitude: c.longitude }));
    if (c.certificate) meta.push(w.t("timeline.certificate", { certificate: c.certificate }));
    const notes = Object.entries(c.attributes || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    if (notes) meta.push(w.t("timeline.notes", { notes }));
    meta.push(w.t("timeline.signed", { device: e.device, key: keyNote(e.keySource) }));
    meta.push(anchor);
    const declaration = P.declarations(story).get(c.event_id);
    if (declaration) {
      meta.unshift(w.t("timeline.declared", { who: P.party(result, declaration.party_id), date: w.day(declaration.occurred_at),
        reason: declaration.error_reason ? w.t(`error_reason.${declaration.error_reason}`) : null }));
    }
    return el("li", declaration ? { class: "withdrawn" } : {},
      el("div", { class: "when" }, w.date(c.occurred_at)),
      el("div", { class: "what" }, P.eventSentence(w, c, result, story)),
      ...meta.map((m) => el("div", { class: "meta" }, m)));
  }

  function pendingEntry(w, p, result) {
    const s = p.summary || {};
    const what = s.kind ? P.eventSentence(w, s, result, result.story) : s.flag ? P.flagSentence(w, s.flag) : w.t("timeline.pending_unknown");
    return el("li", { class: "pending" },
      el("div", { class: "when" }, w.t("timeline.pending")),
      el("div", { class: "what" }, what),
      el("div", { class: "meta" }, w.t("timeline.pending_note", { version: p.version })));
  }

  function timeline(w, view) {
    const o = view.outcome;
    const result = o.ok ? o.result : null;
    const events = o.ok ? o.result.story : (o.progress && o.progress.events) || [];
    $("timeline-title").textContent = w.t(o.ok ? "timeline.title" : "timeline.failed_title");
    const items = events.map((e) => eventEntry(w, e, result, events));
    if (!o.ok && o.version) {
      items.push(el("li", { class: "failed" },
        el("div", { class: "when" }, w.t("timeline.event", { version: o.version })),
        el("div", { class: "what" }, w.t("timeline.failed")),
        el("div", { class: "meta" }, w.t("timeline.failed_note"))));
    }
    if (o.ok) for (const p of o.result.pending || []) items.push(pendingEntry(w, p, result));
    $("timeline").replaceChildren(...items);
  }

  function checkpointText(w, r) {
    if (!r.checkpoint_time) return w.t("tech.checkpoint_size", { size: r.checkpoint_size });
    return w.t("tech.checkpoint_value", { size: r.checkpoint_size, date: w.date(r.checkpoint_time) });
  }

  function technical(w, view) {
    const o = view.outcome;
    const r = o && o.ok ? o.result : null;
    const rows = [];
    const id = (r && r.item_id) || view.itemId;
    if (id) rows.push({ term: w.t("tech.item"), value: id, copy: id });
    if (r) {
      rows.push({ term: w.t("tech.log"), value: r.origin, mono: true });
      rows.push({ term: w.t("tech.checkpoint"), value: checkpointText(w, r) });
      rows.push({ term: w.t("tech.format"), value: w.t(r.bundle_version === 5 ? "tech.format_v5" : r.bundle_version === 4 ? "tech.format_v4" : r.bundle_version === 3 ? "tech.format_v3"
        : r.bundle_version === 2 ? "tech.format_v2" : "tech.format_v1") });
    }
    if (view.key) {
      rows.push({ term: w.t("tech.key"), value: view.key.text, copy: view.key.text });
      const since = view.key.since ? w.t("tech.key_since", { date: w.date(view.key.since) }) : "";
      rows.push({ term: w.t("tech.key_source"), value: `${keyPhrase(w, view.key)}${since ? " · " + since : ""}` });
    }
    rows.push({ term: w.t("tech.policy"), value: w.t(!view.policy ? "tech.policy_none"
      : view.policySource === "tofu" || view.policySource === "remembered" ? "tech.policy_tofu" : "tech.policy_pinned") });
    if (o && !o.ok) {
      rows.push({ term: w.t("tech.step"), value: o.step, mono: true });
      rows.push({ term: w.t("tech.message"), value: o.message, mono: true });
    }
    factList(w, $("technical"), rows);
  }

  // ----- the printable certificate -----------------------------------------------------

  function certificate(w, view, v) {
    $("cert-verdict").textContent = v.title;
    $("cert-verdict").className = `cert-verdict ${v.tone}`;
    list($("cert-lines"), v.lines);
    const o = view.outcome;
    const rows = o && o.ok ? P.facts(w, o.result, view.ctx.now).filter((f) => !f.copy || f.value === o.result.item_id) : [];
    if (o && o.ok) rows.push({ term: w.t("tech.checkpoint"), value: `${o.result.origin} · ${checkpointText(w, o.result)}`, mono: true });
    factList(w, $("cert-facts"), rows.map((f) => ({ term: f.term, value: f.value, mono: f.mono })));
    const link = view.itemId && view.pageUrl ? `${view.pageUrl}?item=${encodeURIComponent(view.itemId)}` : "";
    $("cert-link").textContent = link;
    const qr = $("cert-qr");
    qr.hidden = !view.qr;
    if (view.qr) {
      qr.src = view.qr;
      qr.alt = w.t("cert.qr_alt");
    }
    $("cert-checked").textContent = w.t("cert.checked", { date: w.date(view.checkedAt) });
  }

  // ----- the whole view ----------------------------------------------------------------

  function render(w, view) {
    const v = verdictOf(w, view);
    showVerdict(w, view, v);
    const o = view.outcome;
    const card = $("passport");
    card.hidden = !(o && o.ok);
    if (o && o.ok) factList(w, $("facts"), P.facts(w, o.result, view.ctx.now));
    const how = $("how");
    how.hidden = !o;
    if (o) {
      list($("checks"), checks(w, view));
      timeline(w, view);
      technical(w, view);
    }
    certificate(w, view, v);
    return v;
  }

  global.AssayRender = { render, el };
})(globalThis);
