// A customer's view: create a session over REST, hand cdpUrl to puppeteer.connect as it is, drive a page, close.
import puppeteer from "puppeteer-core";

const api = process.env.BOXES_API_URL;
const key = process.env.BOXES_API_KEY;
const headers = { Authorization: `Bearer ${key}`, "Content-Type": "application/json" };

async function call(method, path, body) {
  const res = await fetch(`${api}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function waitFor(id, statuses, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await call("GET", `/v1/browsers/${id}`);
    if (statuses.includes(s.status)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${statuses} (status ${s.status})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const created = await call("POST", "/v1/browsers", { weight: "light" });
const ready = await waitFor(created.id, ["ready", "failed"], 30000);
if (ready.status !== "ready") throw new Error(`session failed: ${ready.endReason}`);

const browser = await puppeteer.connect({ browserWSEndpoint: ready.cdpUrl });
const page = await browser.newPage();
await page.goto("data:text/html,<title>boxes puppeteer</title><h1>hi</h1>");
console.log(`title=${await page.title()}`);
console.log(`h1=${await page.$eval("h1", (e) => e.textContent)}`);
await browser.disconnect();

await call("DELETE", `/v1/browsers/${created.id}`);
const ended = await waitFor(created.id, ["ended", "failed"], 30000);
console.log(`final=${ended.status}`);
