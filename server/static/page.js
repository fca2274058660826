/*
 * The verifier page's flow. Opened from an item's QR link (/verify?item=<id> or /?item=<id>)
 * it fetches the item's proof and the current checkpoint and checks them at once with the
 * key the deployment pinned in the page (else one remembered on this device, else the
 * server's own, labelled trust on first use). The last verified proofs are kept on this
 * device, so with the service worker (sw.js) the page still answers offline. A buyer can
 * also check a proof file by hand under "Check a proof file yourself".
 */
(function () {
  "use strict";

  const V = window.AssayVerifier;
  const I = window.AssayI18n;
  const R = window.AssayRender;
  const $ = (id) => document.getElementById(id);
  const served = location.protocol === "http:" || location.protocol === "https:";
  const KEY_STORE = "assay.platformKey"; //  {text, source: "tofu" | "manual", since}
  const POLICY_STORE = "assay.witnessPolicy"; //  {text, since}: the server's, trusted on first use
  const LEGACY_KEY_STORE = "assay.pinnedPlatformKey"; //  plain text, from earlier pages
  const PASSPORTS = "assay.passports"; //  {item id: {bundle, savedAt}}, most recent last
  const KEEP_PASSPORTS = 5;

  let words = new I.Words(I.choose());
  let view = { notice: { state: "idle" }, ctx: {} };

  // ----- this device's storage ---------------------------------------------------------

  function load(name) {
    try {
      return JSON.parse(localStorage.getItem(name));
    } catch (e) {
      return null;
    }
  }

  function save(name, value) {
    try {
      localStorage.setItem(name, JSON.stringify(value));
    } catch (e) {
      /* storage unavailable or full: nothing is kept beyond this visit */
    }
  }

  function rememberedKey() {
    const kept = load(KEY_STORE);
    if (kept && typeof kept.text === "string" && kept.text) return kept;
    let legacy = null;
    try {
      legacy = localStorage.getItem(LEGACY_KEY_STORE);
    } catch (e) { /* none */ }
    return legacy ? { text: legacy, source: "manual", since: null } : null;
  }

  function savePassport(itemId, bundle) {
    const all = load(PASSPORTS) || {};
    const earlier = all[itemId];
    delete all[itemId];
    all[itemId] = { bundle, savedAt: earlier && earlier.bundle === bundle ? earlier.savedAt : new Date().toISOString() };
    const ids = Object.keys(all);
    for (const old of ids.slice(0, Math.max(0, ids.length - KEEP_PASSPORTS))) delete all[old];
    save(PASSPORTS, all);
  }

  function pinned(name) {
    const meta = document.querySelector(`meta[name="${name}"]`);
    return meta ? meta.content.trim() : "";
  }

  const pins = { key: pinned("assay-pinned-key"), policy: pinned("assay-witness-policy") };

  // ----- checking ----------------------------------------------------------------------

  function show(next) {
    view = next;
    const v = R.render(words, view);
    // For tests and bench/bench_passport.py: ms from navigation to this verdict, and of the check.
    $("verdict").dataset.shownMs = String(Math.round(performance.now()));
    $("verdict").dataset.checkMs = view.outcome ? String(Math.round(view.outcome.ms)) : "";
    return v;
  }

  /* A proof is only about the item asked for: a valid proof of another id (a genuine bag's
   * for a fake tag, another id's absence for a real one) must not answer for this one. */
  function aboutItem(outcome, itemId) {
    if (!outcome.ok || !itemId || outcome.result.item_id === itemId) return outcome;
    return { ok: false, step: "wrong_item", version: null, ms: outcome.ms, progress: { events: [] },
      message: `the proof is about ${JSON.stringify(outcome.result.item_id)}, not ${JSON.stringify(itemId)}` };
  }

  async function check(bundleText, key, ctx, extra) {
    const now = Date.now();
    const policy = (extra && extra.policy) || (pins.policy ? { text: pins.policy, source: "deployment" } : null);
    const context = Object.assign({ now, maxAgeSeconds: window.AssayPassport.DEFAULT_MAX_AGE_SECONDS, policyPinned: !!pins.policy,
      policySource: policy ? policy.source : null, policyChanged: !!(policy && policy.changed) }, ctx);
    const options = { now, maxAgeSeconds: context.maxAgeSeconds };
    if (policy) options.witnessPolicy = policy.text;
    let outcome;
    try {
      outcome = aboutItem(await V.verifyText(bundleText, key.text, $("device-keys").value, options), extra && extra.expect);
    } catch (e) {
      outcome = { ok: false, step: "error", version: null, message: String(e.message || e), ms: 0, progress: { events: [] } };
    }
    show(Object.assign({ outcome, ctx: context, key, policy: policy ? policy.text : "", policySource: context.policySource, checkedAt: new Date(now).toISOString(), pageUrl: pageUrl() }, extra));
    // The owner panel (page-owner.js) compares the verified owner with this device's key.
    document.dispatchEvent(new CustomEvent("assay:verified", { detail: { outcome, itemId: (extra && extra.itemId) || null } }));
    return outcome;
  }

  function pageUrl() {
    return served ? `${location.origin}${location.pathname}` : "";
  }

  async function getProof(itemId) {
    let response;
    try {
      response = await fetch(`items/${encodeURIComponent(itemId)}/proof`, { cache: "no-store" });
    } catch (e) {
      return { kind: "offline" };
    }
    const text = await response.text();
    if (response.ok) return { kind: "bundle", text };
    let body = null;
    try {
      body = JSON.parse(text);
    } catch (e) { /* not JSON: an error page of something in front of the server */ }
    // An unknown id may be answered with an absence proof (docs/proof-bundle.md §10.5: 404,
    // {"error": "unknown_item", "absence_proof": …}); the verifier decides what it proves.
    const FORMATS = ["assay-proof-bundle", "assay-absence"];
    const isBundle = (x) => !!x && typeof x === "object" && FORMATS.includes(x.format);
    const proof = body && [body, body.proof, body.bundle, body.absence_proof].find(isBundle);
    if (proof) return { kind: "bundle", text: proof === body ? text : JSON.stringify(proof) };
    if (response.status === 404 && body && body.error === "not_anchored") return { kind: "notice", state: "not_anchored" };
    if (response.status === 404) return { kind: "notice", state: "no_record" };
    return { kind: "notice", state: "unreachable" };
  }

  async function getText(path) {
    try {
      const response = await fetch(path, { cache: "no-store" });
      return response.ok ? await response.text() : null;
    } catch (e) {
      return null;
    }
  }

  async function serverKey() {
    const text = await getText("keys");
    try {
      const keys = JSON.parse(text);
      return keys && keys.platform ? keys.platform.text : null;
    } catch (e) {
      return null;
    }
  }

  /* The key to check with: pinned by the page, else remembered, else the server's (TOFU). */
  async function chooseKey(offered) {
    if (pins.key) return { text: pins.key, source: "deployment" };
    const kept = rememberedKey();
    const server = await offered;
    if (kept) return { text: kept.text, source: "remembered", since: kept.since, changed: !!server && server !== kept.text };
    return server ? { text: server, source: "tofu" } : null;
  }

  async function serverPolicy() {
    try {
      const offered = JSON.parse(await getText("witnesses"));
      return offered && typeof offered.policy === "string" && offered.policy.trim() ? offered.policy : null;
    } catch (e) {
      return null;
    }
  }

  /* The witness policy: pinned by the brand, else remembered, else the server's (TOFU). */
  async function choosePolicy(offered) {
    if (pins.policy) return { text: pins.policy, source: "deployment" };
    const kept = load(POLICY_STORE);
    const server = await offered;
    if (kept && typeof kept.text === "string" && kept.text) {
      return { text: kept.text, source: "remembered", since: kept.since, changed: !!server && server !== kept.text };
    }
    return server ? { text: server, source: "tofu" } : null;
  }

  /* Is the server's current checkpoint newer than the proof's? Checked with the same key. */
  async function latest(checkpointText, key, outcome) {
    const parts = window.AssayVerifierParts;
    if (!checkpointText || !outcome.ok || !parts || !parts.openCheckpoint) return null;
    try {
      const opened = await parts.openCheckpoint(checkpointText, await parts.parseVerifierKey(key.text), outcome.result.origin);
      return { size: opened.size };
    } catch (e) {
      return { bad: true };
    }
  }

  async function checkItem(itemId) {
    const started = { notice: { state: "checking" }, ctx: {}, itemId };
    show(started);
    const offered = pins.key ? Promise.resolve(null) : serverKey();
    const offeredPolicy = pins.policy ? Promise.resolve(null) : serverPolicy();
    const [proof, checkpointText] = await Promise.all([getProof(itemId), getText("checkpoint")]);
    let bundle = null;
    let offlineSince = null;
    if (proof.kind === "bundle") {
      bundle = proof.text;
    } else if (proof.kind === "offline") {
      const kept = (load(PASSPORTS) || {})[itemId];
      if (!kept) return show({ notice: { state: "unreachable" }, ctx: {}, itemId });
      bundle = kept.bundle;
      offlineSince = kept.savedAt;
    } else {
      return show({ notice: { state: proof.state }, ctx: {}, itemId });
    }
    const key = await chooseKey(offered);
    if (!key) return show({ notice: { state: "need_key" }, ctx: {}, itemId });
    const qr = served ? `items/${encodeURIComponent(itemId)}/qr.svg` : null;
    const policy = await choosePolicy(offeredPolicy);
    const outcome = await check(bundle, key, { keySource: key.source, keyChanged: key.changed, offlineSince }, { itemId, qr, expect: itemId, policy });
    if (outcome.ok) {
      savePassport(itemId, bundle);
      if (policy && policy.source === "tofu") save(POLICY_STORE, { text: policy.text, since: new Date().toISOString() });
      if (key.source === "tofu") save(KEY_STORE, { text: key.text, source: "tofu", since: new Date().toISOString() });
      const current = await latest(checkpointText, key, outcome);
      if (current) {
        const newer = current.size > outcome.result.checkpoint_size ? current.size : null;
        show(Object.assign({}, view, { current, ctx: Object.assign({}, view.ctx, { newerCheckpoint: newer }) }));
      }
    }
    return outcome;
  }

  // ----- checking by hand --------------------------------------------------------------

  const manual = { bundleText: null };

  function status(id, key, params, tone) {
    const node = $(id);
    node.textContent = key ? words.t(key, params) : "";
    node.className = "status" + (tone ? " " + tone : "");
  }

  function readFile(input, then) {
    const file = input.files && input.files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => then(String(reader.result), file.name);
    reader.readAsText(file);
  }

  async function checkByHand() {
    const text = manual.bundleText || $("bundle-text").value;
    const keyText = $("key-text").value.trim();
    if (!text.trim()) return status("bundle-status", "manual.need_bundle", null, "warn");
    if (!keyText) return status("key-status", "manual.need_key", null, "warn");
    const kept = rememberedKey();
    const source = keyText === pins.key ? "deployment" : kept && kept.text === keyText ? "remembered" : "manual";
    const key = { text: keyText, source, since: source === "remembered" ? kept.since : null };
    let itemId = null;
    try {
      itemId = JSON.parse(text).item_id;
    } catch (e) { /* the verifier names the problem */ }
    const outcome = await check(text, key, { keySource: source }, { itemId: typeof itemId === "string" ? itemId : null });
    if (outcome.ok && $("remember-key").checked && source === "manual") {
      save(KEY_STORE, { text: keyText, source: "manual", since: new Date().toISOString() });
    }
    $("verdict").scrollIntoView({ block: "start" });
  }

  async function useServerKey() {
    const offered = await serverKey();
    if (!offered) return status("key-status", "manual.no_server_key", null, "bad");
    const kept = rememberedKey();
    $("key-text").value = offered;
    if (kept && kept.text !== offered) status("key-status", "manual.server_key_differs", null, "bad");
    else status("key-status", "manual.server_key_used", null, "warn");
  }

  function wireManual() {
    $("verify").addEventListener("click", checkByHand);
    $("bundle-file").addEventListener("change", (ev) => readFile(ev.target, (text, name) => {
      manual.bundleText = text;
      status("bundle-status", "manual.loaded", { name });
    }));
    $("bundle-text").addEventListener("input", () => {
      manual.bundleText = null;
      status("bundle-status", null);
    });
    $("key-file").addEventListener("change", (ev) => readFile(ev.target, (text) => {
      $("key-text").value = text.trim();
      status("key-status", "manual.key_loaded");
    }));
    const kept = rememberedKey();
    $("key-text").value = pins.key || (kept ? kept.text : "");
    if (pins.key) status("key-status", "manual.key_pinned");
    else if (kept) status("key-status", "manual.key_remembered");
    if (!served) return;
    for (const node of document.querySelectorAll(".served-only")) node.hidden = false;
    $("server-key").addEventListener("click", useServerKey);
    $("fetch-bundle").addEventListener("click", () => {
      const id = $("item-id").value.trim();
      if (!id) return;
      history.replaceState(null, "", `?item=${encodeURIComponent(id)}${langParam()}`);
      checkItem(id);
    });
  }

  // ----- language ----------------------------------------------------------------------

  function langParam() {
    const lang = new URLSearchParams(location.search).get("lang");
    return lang ? `&lang=${encodeURIComponent(lang)}` : "";
  }

  function setLanguage(lang) {
    words = new I.Words(lang);
    words.apply(document);
    document.title = words.t("app.title");
    const select = $("lang");
    select.replaceChildren(...I.LANGUAGES.map((code) => {
      const option = R.el("option", { value: code, lang: code }, new I.Words(code).t("lang.self"));
      option.selected = code === lang;
      return option;
    }));
    R.render(words, view);
  }

  function init() {
    const item = new URLSearchParams(location.search).get("item");
    wireManual();
    setLanguage(words.lang);
    $("lang").addEventListener("change", (ev) => {
      I.remember(ev.target.value);
      const params = new URLSearchParams(location.search);
      params.set("lang", ev.target.value);
      history.replaceState(null, "", `?${params}`);
      setLanguage(ev.target.value);
    });
    $("print").addEventListener("click", () => window.print());
    if (served) {
      // Installable when served (a manifest cannot be fetched from file://).
      document.head.append(R.el("link", { rel: "manifest", href: "manifest.webmanifest" }));
      if ("serviceWorker" in navigator) {
        navigator.serviceWorker.register("sw.js").catch(() => { /* no offline copy: the page still works online */ });
      }
    }
    if (served && item) {
      $("item-id").value = item;
      checkItem(item);
    } else {
      $("manual").open = true;
      show({ notice: { state: "idle" }, ctx: {} });
    }
  }

  window.AssayPage = {
    /* Render an outcome as the page would (tests and screenshots of contract states). */
    show: (outcome, ctx, extra) => show(Object.assign({ outcome, ctx: Object.assign({ now: Date.now() }, ctx), checkedAt: new Date().toISOString(), policy: pins.policy }, extra)),
    checkItem,
  };
  init();
})();
