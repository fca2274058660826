/*
 * The verifier page: gathers a bundle and a pinned key, runs AssayVerifier (verifier.js)
 * and tells the item's story from what verified. Only signed or anchored content is shown
 * as fact; everything else is labelled. All text goes in via textContent.
 */
(function () {
  "use strict";

  const V = window.AssayVerifier;
  const $ = (id) => document.getElementById(id);
  const served = location.protocol === "http:" || location.protocol === "https:";
  const STORE_KEY = "assay.pinnedPlatformKey";
  const state = { bundleText: null };

  // ----- small DOM helpers ------------------------------------------------------------

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

  function status(id, text, kind) {
    const node = $(id);
    node.textContent = text;
    node.className = "status" + (kind ? " " + kind : "");
  }

  function remembered() {
    try {
      return localStorage.getItem(STORE_KEY) || "";
    } catch (e) {
      return "";
    }
  }

  function remember(text) {
    try {
      localStorage.setItem(STORE_KEY, text);
    } catch (e) {
      /* storage unavailable (private mode): pinning lasts for this visit only */
    }
  }

  // ----- inputs -----------------------------------------------------------------------

  function setBundle(text, where) {
    state.bundleText = text;
    let summary = "";
    try {
      const b = JSON.parse(text);
      const n = Array.isArray(b.events) ? b.events.length : 0;
      summary = `${b.item_id}: ${n} anchored event${n === 1 ? "" : "s"}`;
    } catch (e) {
      summary = "not JSON";
    }
    status("bundle-status", `${where} (${summary}).`);
  }

  async function fetchBundle() {
    const id = $("item-id").value.trim();
    if (!id) return status("bundle-status", "Enter an item id first.", "warn");
    status("bundle-status", "Fetching…");
    try {
      const response = await fetch(`items/${encodeURIComponent(id)}/proof`, { cache: "no-store" });
      const text = await response.text();
      if (!response.ok) {
        let message = text;
        try {
          message = JSON.parse(text).message;
        } catch (e) { /* keep the raw text */ }
        state.bundleText = null;
        return status("bundle-status", `The server has no proof: ${message}`, "bad");
      }
      setBundle(text, "Fetched from this server");
      if ($("key-text").value.trim()) await verify();
    } catch (e) {
      status("bundle-status", `Could not reach the server: ${e.message}`, "bad");
    }
  }

  async function useServerKey() {
    try {
      const keys = await (await fetch("keys", { cache: "no-store" })).json();
      if (!keys.platform) return status("key-status", "The server has no platform key yet.", "bad");
      const pinned = remembered();
      $("key-text").value = keys.platform.text;
      if (pinned && pinned !== keys.platform.text) {
        status("key-status", "Warning: the server's key differs from the key you pinned earlier!", "bad");
      } else {
        status("key-status", "Using the server's key: trust on first use.", "warn");
      }
    } catch (e) {
      status("key-status", `Could not fetch the server's key: ${e.message}`, "bad");
    }
  }

  function readFile(input, then) {
    const file = input.files && input.files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => then(String(reader.result), file.name);
    reader.readAsText(file);
  }

  // ----- verdict ----------------------------------------------------------------------

  function showVerdict(kind, title, detail, time, step) {
    const box = $("verdict");
    box.className = `verdict ${kind}`;
    box.dataset.verdict = kind === "ok" ? "verified" : kind === "bad" ? "failed" : kind;
    box.dataset.step = step || "";
    $("verdict-title").textContent = title;
    $("verdict-detail").replaceChildren(...[].concat(detail));
    $("verdict-time").textContent = time || "";
  }

  async function verify() {
    const text = state.bundleText ?? $("bundle-text").value;
    const keyText = $("key-text").value.trim();
    if (!text || !text.trim()) return showVerdict("idle", "Not checked yet", "Load a proof bundle first.");
    if (!keyText) return showVerdict("idle", "Not checked yet", "Pin the platform key first: paste it, load it from a file, or take the server's.");
    showVerdict("busy", "Checking…", "");
    let outcome;
    try {
      outcome = await V.verifyText(text, keyText, $("device-keys").value);
    } catch (e) {
      return showVerdict("bad", "Not verified", `The verifier could not run: ${e.message}`, "", "error");
    }
    if (outcome.ok && $("remember-key").checked) remember(keyText);
    const time = `Checked on this device in ${outcome.ms.toFixed(1)} ms.`;
    let names = {};
    try {
      names = JSON.parse(text).devices || {};
    } catch (e) { /* no names */ }
    if (outcome.ok) {
      const r = outcome.result;
      const pending = r.pending.length ? ` ${r.pending.length} later event(s) are recorded but not anchored yet, so not verified.` : "";
      const key = keyText.split("+").slice(0, 2).join("+");
      showVerdict("ok", "Verified",
        `All ${r.events} anchored events of this item are signed by their devices, chained, and proven into the ${r.origin} checkpoint of ${r.checkpoint_size} blocks, signed by the key you pinned (${key}).${pending}`,
        time);
      renderStory(r.item_id, r.story, r.pending, names, null);
    } else {
      const where = outcome.version ? ` at event v${outcome.version}` : "";
      showVerdict("bad", "Not verified", [
        "Step ", el("span", { class: "step" }, outcome.step), ` failed${where}: ${outcome.detail}. `,
        el("b", {}, "Do not trust this history."),
      ], time, outcome.step);
      const events = outcome.progress.events;
      if (events.length || outcome.version) renderStory(null, events, [], names, outcome);
      else $("story").hidden = true;
    }
  }

  // ----- the item's story -------------------------------------------------------------

  const when = (iso) => iso.replace("T", " ").replace(/:\d\d(\.\d+)?\+00:00$/, "") + " UTC";

  function partyLabel(partyId, names) {
    for (const [device, info] of Object.entries(names || {})) {
      if (device.split("/")[0] === partyId && info && info.party_name) {
        return `${info.party_name} (${partyId}, ${info.role})`;
      }
    }
    return partyId;
  }

  function describe(c, names) {
    const who = partyLabel(c.party_id, names);
    const to = c.counterparty ? partyLabel(c.counterparty, names) : "?";
    return {
      commissioning: `${who} registered ${c.brand || "?"} ${c.model || ""}, serial ${c.serial || "?"} (tag ${c.tag_uid || "?"})`,
      inspecting: `${who} authenticated it: ${c.verdict || "?"}${c.certificate ? ` (certificate ${c.certificate})` : ""}`,
      shipping: `${who} shipped it to ${to}`,
      void_shipping: `${who} recalled the shipment`,
      receiving: `${who} received it`,
      observing: `${who} scanned it`,
      repairing: `${who} serviced it`,
      retail_selling: `${who} sold it${c.buyer_ref ? ` (buyer ${c.buyer_ref})` : ""}`,
      returning: `${who} took it back`,
      decommissioning: `${who} retired it (${c.reason || "?"})`,
    }[c.kind];
  }

  /* ItemState.evolve over the verified custody events, driven by the kinds table
   * (kinds.js, generated from domain/kinds.py). */
  function currentState(events) {
    const s = { status: "unregistered" };
    for (const e of events) {
      if (e.kind !== "E") continue;
      const c = e.summary;
      const r = window.AssayKinds.kinds[c.kind];
      if (!r) continue;
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
      if (r.status === "retired") s.reason = c.reason;
    }
    return s;
  }

  function statusText(s, names) {
    if (s.status === "in_custody") return `Held by ${partyLabel(s.holder, names)} at ${s.location}`;
    if (s.status === "in_transit") return `In transit from ${partyLabel(s.shipper, names)} to ${partyLabel(s.consignee, names)}`;
    if (s.status === "sold") return `Sold by ${partyLabel(s.soldBy, names)} on ${when(s.soldAt)}`;
    if (s.status === "retired") return `Retired (${s.reason || "?"})`;
    return "Never registered by a brand";
  }

  function renderFacts(itemId, events, names) {
    const facts = $("item-facts");
    facts.replaceChildren();
    const add = (term, value, cls) => facts.append(el("dt", {}, term), el("dd", cls ? { class: cls } : {}, value));
    const s = currentState(events);
    const c = s.commissioning;
    if (c) add("Product", `${c.brand || "?"} ${c.model || ""} · serial ${c.serial || "?"} · tag ${c.tag_uid || "?"}`);
    const i = s.inspection;
    if (i) add("Authentication", `${i.verdict || "?"} — ${partyLabel(i.party_id, names)}, ${when(i.occurred_at)}${i.certificate ? `, certificate ${i.certificate}` : ""}`, i.verdict);
    else add("Authentication", "No appraiser has inspected it", "flagged");
    add("Status", statusText(s, names));
    const flags = events.filter((e) => e.kind === "P");
    add("Flags", flags.length ? flags.map((e) => e.flag.signal).join(", ") : "none", flags.length ? "flagged" : "");
    add("Item id", el("span", { class: "mono" }, itemId));
  }

  function eventItem(e, names) {
    const anchor = `anchored in block ${e.height} (leaf ${e.leafIndex}, sealed ${when(e.sealedAt.replace("Z", "+00:00"))})`;
    if (e.kind === "P") {
      const evidence = e.summary.evidence;
      const seen = evidence ? `evidence signed by device ${e.device}: ${describe(evidence, names)} at ${evidence.location} · ` : "";
      return el("li", { class: "flag" },
        el("div", { class: "when" }, evidence ? when(evidence.occurred_at) : "Raised by the platform"),
        el("div", { class: "what" }, `⚑ Flag ${e.flag.signal}: ${e.flag.detail}`),
        el("div", { class: "meta" }, `${seen}v${e.version} · ${anchor}`));
    }
    const c = e.summary;
    const where = c.latitude != null ? `${c.location} (${c.latitude}, ${c.longitude})` : c.location;
    const notes = Object.entries(c.attributes || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    const info = (names || {})[e.device];
    const key = e.keySource === "pinned" ? "key pinned by you" : info ? "key listed by the platform" : "key from the bundle";
    return el("li", {},
      el("div", { class: "when" }, when(c.occurred_at)),
      el("div", { class: "what" }, describe(c, names)),
      el("div", { class: "meta" }, `at ${where}${notes ? ` (${notes})` : ""} · signed by device ${e.device} (${key}) · v${e.version} · ${anchor}`));
  }

  function renderStory(itemId, events, pending, names, failure) {
    $("story").hidden = false;
    const first = events.find((e) => e.kind === "E");
    const id = itemId || (first ? first.summary.item_id : "");
    $("item-title").textContent = failure ? "What was checked before the failure" : id;
    if (failure) $("item-facts").replaceChildren();
    else renderFacts(id, events, names);
    $("timeline-title").textContent = failure ? "Events that passed every check" : "History";
    const list = $("timeline");
    list.replaceChildren(...events.map((e) => eventItem(e, names)));
    if (failure && failure.version) {
      list.append(el("li", { class: "failed" },
        el("div", { class: "when" }, `Event v${failure.version}`),
        el("div", { class: "what" }, `Failed: ${failure.step}`),
        el("div", { class: "meta" }, "This event and everything after it are not verified.")));
    }
    for (const p of pending) {
      const s = p.summary || {};
      list.append(el("li", { class: "pending" },
        el("div", { class: "when" }, s.occurred_at ? when(s.occurred_at) : "Recently"),
        el("div", { class: "what" }, s.kind ? describe(s, names) : `Flag ${s.flag || "?"}`),
        el("div", { class: "meta" }, `v${p.version} · recorded, not yet anchored — not verified`)));
    }
  }

  // ----- wiring -----------------------------------------------------------------------

  function init() {
    const meta = document.querySelector('meta[name="assay-pinned-key"]');
    const pinned = (meta && meta.content.trim()) || remembered();
    if (pinned) {
      $("key-text").value = pinned;
      status("key-status", meta && meta.content.trim() ? "Key pinned in this page." : "Key remembered on this device.");
      $("remember-key").checked = !(meta && meta.content.trim());
    }
    $("verify").addEventListener("click", verify);
    $("bundle-file").addEventListener("change", (ev) => readFile(ev.target, (text, name) => setBundle(text, `Loaded ${name}`)));
    $("bundle-text").addEventListener("input", (ev) => {
      state.bundleText = null;
      status("bundle-status", ev.target.value.trim() ? "Pasted bundle." : "No bundle loaded.");
    });
    $("key-file").addEventListener("change", (ev) => readFile(ev.target, (text) => {
      $("key-text").value = text.trim();
      status("key-status", "Key loaded from a file.");
    }));
    if (!served) return;
    for (const node of document.querySelectorAll(".served-only")) node.hidden = false;
    $("fetch-bundle").addEventListener("click", fetchBundle);
    $("server-key").addEventListener("click", useServerKey);
    const item = new URLSearchParams(location.search).get("item");
    if (item) {
      $("item-id").value = item;
      fetchBundle();
    }
  }

  init();
})();
