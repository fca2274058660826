/*
 * The verifier page's service worker: keeps a copy of the page (with the keys pinned in
 * it), its scripts, styles, catalogues and icons, and of the QR codes the certificate
 * shows, so the installed page opens and verifies offline. Network first: online, every
 * file comes fresh and refreshes the copy; offline, the copy answers. Proofs, the
 * checkpoint and the keys listing are never cached here: the page keeps the proofs it
 * verified itself and says so when it checks one offline.
 */
"use strict";

const CACHE = "assay-page";
const SHELL = [
  "verifier.css", "verifier-encodings.js", "verifier-chain.js", "verifier-map.js", "verifier-registry.js", "verifier-witness.js", "verifier-owner.js", "verifier.js",
  "kinds.js", "i18n-en.js", "i18n-zh-Hans.js", "i18n-ja.js", "i18n.js", "passport.js", "page-render.js",
  "page.js", "page-owner.js", "manifest.webmanifest", "icon.svg", "icon-192.png", "icon-512.png",
];
const scope = new URL(self.registration.scope);
const PAGE = new URL("./", scope).href; //  the one cached copy of / and /verify
const PAGES = new Set([scope.pathname, `${scope.pathname}verify`]);
const FILES = new Set(SHELL.map((name) => new URL(name, scope).pathname));
const QR = /\/items\/[^/]+\/qr\.svg$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll([PAGE, ...SHELL]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== scope.origin) return;
  const page = request.mode === "navigate" && PAGES.has(url.pathname);
  if (!page && !FILES.has(url.pathname) && !QR.test(url.pathname)) return; //  the API: network only
  event.respondWith(networkFirst(request, page ? PAGE : request));
});

async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (error) {
    const copy = await cache.match(key);
    if (copy) return copy;
    throw error;
  }
}
