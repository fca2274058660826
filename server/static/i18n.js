/*
 * The page's words. Every string lives in one catalogue per language (i18n-<lang>.js, each
 * defining the same keys: tests/server/test_page_catalogues.py fails on a missing one);
 * the language comes from ?lang=, then the buyer's earlier choice, then the browser's
 * languages; dates and ages are formatted in the buyer's locale and time zone.
 */
(function (global) {
  "use strict";

  const CATALOGUES = global.AssayCatalogues || {};
  //: language -> the Intl locale used when the browser's own tag is not of that language
  const LANGUAGES = { en: "en", "zh-Hans": "zh-Hans", ja: "ja" };
  const STORE_KEY = "assay.lang";

  /* The catalogue language a BCP 47 tag asks for, or null. Any Chinese reads Simplified
   * rather than falling back to English. */
  function languageOf(tag) {
    const t = String(tag || "").toLowerCase();
    if (t === "zh" || t.startsWith("zh-")) return "zh-Hans";
    if (t === "ja" || t.startsWith("ja-")) return "ja";
    if (t === "en" || t.startsWith("en-")) return "en";
    return null;
  }

  function stored() {
    try {
      return localStorage.getItem(STORE_KEY);
    } catch (e) {
      return null;
    }
  }

  function choose() {
    const asked = new URLSearchParams(location.search).get("lang");
    const browser = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    for (const tag of [asked, stored(), ...browser]) {
      const lang = languageOf(tag);
      if (lang && CATALOGUES[lang]) return lang;
    }
    return "en";
  }

  /* Dates in the browser's own locale when it speaks the page's language (en-GB keeps its
   * day/month order), else the language's default; Traditional Chinese locales format a
   * Simplified page with the Simplified default. */
  function localeFor(lang) {
    const own = navigator.language || "";
    if (languageOf(own) !== lang) return LANGUAGES[lang];
    if (lang === "zh-Hans" && /hant|-tw|-hk|-mo/i.test(own)) return LANGUAGES[lang];
    return own;
  }

  const AGE_UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
    ["hour", 3600], ["minute", 60], ["second", 1]];

  class Words {
    constructor(lang) {
      this.lang = lang;
      this.locale = localeFor(lang);
      this.catalogue = CATALOGUES[lang] || {};
      this.plurals = new Intl.PluralRules(this.locale);
      this.dates = new Intl.DateTimeFormat(this.locale, { dateStyle: "medium", timeStyle: "short" });
      this.days = new Intl.DateTimeFormat(this.locale, { dateStyle: "long" });
      this.ages = new Intl.RelativeTimeFormat(this.locale, { numeric: "auto" });
    }

    /* The string for key with {name} placeholders filled; where the catalogue has plural
     * forms (key.one, key.other) params.count chooses one. A key missing here falls back
     * to English. */
    t(key, params) {
      const p = params || {};
      let k = key;
      if (typeof p.count === "number" && this.has(`${key}.other`)) {
        const form = `${key}.${this.plurals.select(p.count)}`;
        k = this.has(form) ? form : `${key}.other`;
      }
      const text = this.lookUp(k);
      return text.replace(/\{([a-z_]+)\}/g, (m, name) =>
        p[name] === undefined || p[name] === null || p[name] === "" ? "—" : String(p[name]));
    }

    has(key) {
      return Object.prototype.hasOwnProperty.call(this.catalogue, key) ||
        Object.prototype.hasOwnProperty.call(CATALOGUES.en || {}, key);
    }

    lookUp(key) {
      if (Object.prototype.hasOwnProperty.call(this.catalogue, key)) return this.catalogue[key];
      const en = CATALOGUES.en || {};
      if (Object.prototype.hasOwnProperty.call(en, key)) return en[key];
      console.warn(`assay: no string for ${key}`);
      return key;
    }

    /* An ISO 8601 time in the buyer's locale and time zone; "—" when there is none. */
    date(iso) {
      const d = toDate(iso);
      return d ? this.dates.format(d) : "—";
    }

    day(iso) {
      const d = toDate(iso);
      return d ? this.days.format(d) : "—";
    }

    /* "2 minutes ago", in the buyer's language, of iso relative to now (ms). */
    age(iso, now) {
      const d = toDate(iso);
      if (!d) return "—";
      const seconds = Math.round((d.getTime() - now) / 1000);
      for (const [unit, size] of AGE_UNITS) {
        if (Math.abs(seconds) >= size || unit === "second") {
          return this.ages.format(Math.round(seconds / size), unit);
        }
      }
      return "—";
    }

    number(n) {
      return new Intl.NumberFormat(this.locale).format(n);
    }

    /* Fill every element marked data-i18n (text) or data-i18n-<attribute> (an attribute). */
    apply(root) {
      document.documentElement.lang = this.lang;
      for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = this.t(node.dataset.i18n);
      for (const node of root.querySelectorAll("*")) {
        for (const attr of Array.from(node.attributes)) {
          if (attr.name.startsWith("data-i18n-")) node.setAttribute(attr.name.slice(10), this.t(attr.value));
        }
      }
    }
  }

  function toDate(iso) {
    if (typeof iso !== "string" || !iso) return null;
    // A header's sealed_at has six fraction digits; ECMAScript's date format has three
    // (more are read by V8 and Gecko, not by every engine).
    const d = new Date(iso.replace(/(\.[0-9]{3})[0-9]+/, "$1"));
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function remember(lang) {
    try {
      localStorage.setItem(STORE_KEY, lang);
    } catch (e) {
      /* storage unavailable (private mode): the choice lasts for this visit */
    }
  }

  global.AssayI18n = { LANGUAGES: Object.keys(LANGUAGES), Words, choose, languageOf, remember, toDate };
})(globalThis);
