// Browser tests of the public pages (and that /dashboard leads to the staff app), in Debian's
// headless Chromium driven by playwright-core, with axe-core on every page.
// Started by tests/tests/blackbox/browser.rs, which runs the service and seeds it;
// everything it needs comes in the environment. Exits non-zero on the first
// failure, printing what failed.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const BASE = env("BASE_URL");
const SHOTS = env("SCREENSHOT_DIR");
const COMMS = env("COMMS_TOKEN");
mkdirSync(SHOTS, { recursive: true });

const SIZES = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } };
const violations = [];
const figures = [];

async function gql(token, query, variables = {}) {
  const response = await fetch(`${BASE}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors?.length) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** axe-core at WCAG 2.2 AA, and screenshots at both widths. */
async function check(page, name) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } })
  );
  for (const v of result.violations) {
    violations.push(`${name}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join("; ")}`);
  }
  for (const [size, viewport] of Object.entries(SIZES)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: `${SHOTS}/${name}-${size}.png`, fullPage: true });
  }
  await page.setViewportSize(SIZES.desktop);
}

async function verify(page, pasted) {
  await page.goto(`${BASE}/verify`);
  await page.getByLabel("The account's web address or handle").fill(pasted);
  await page.getByRole("button", { name: "Check" }).click();
  await page.waitForSelector("#result");
  return page.locator("#result").getAttribute("data-status");
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  // bypassCSP only so axe-core can be injected; the pages themselves run under their CSP.
  const context = await browser.newContext({ viewport: SIZES.desktop, bypassCSP: true });
  const page = await context.newPage();

  // The directory.
  await page.goto(`${BASE}/directory`);
  assert.equal(await page.locator("h1").textContent(), "Official social media accounts");
  assert.ok((await page.locator("tbody tr").count()) >= 2, "published accounts are listed");
  await check(page, "directory");
  await page.getByLabel("Search").fill("libraries");
  await page.getByRole("button", { name: "Show accounts" }).click();
  assert.equal(await page.locator("tbody tr").count(), 1, "search narrows the list");

  // A resident verifies an account pasted in three forms.
  await page.goto(`${BASE}/verify`);
  await check(page, "verify");
  for (const pasted of ["https://twitter.com/NorthLibraries", "x.com/northlibraries?s=20", "@NorthLibraries"]) {
    assert.equal(await verify(page, pasted), "verified", pasted);
  }
  assert.ok(page.url().includes("/verify?account="), "the answer has a link of its own");
  await check(page, "verify-verified");

  // Withdrawn and unknown accounts.
  assert.equal(await verify(page, "https://x.com/NorthRoadsOld"), "withdrawn");
  assert.match(await page.locator("#result h2").textContent(), /no longer an official council account/);
  await check(page, "verify-withdrawn");
  assert.equal(await verify(page, "https://x.com/TotallyNotNorth"), "unknown");
  assert.match(await page.locator("#result").textContent(), /may not be official/);
  await check(page, "verify-unknown");

  // The report link from an unknown result files a report with a reference.
  await page.getByRole("link", { name: "Report this account as a possible fake" }).click();
  assert.equal(await page.getByLabel("The account's web address or handle").inputValue(), "https://x.com/TotallyNotNorth");
  await check(page, "report");
  await page.getByLabel(/What made you think/).fill("Uses the council logo and asks for bank details.");
  await page.getByRole("button", { name: "Send report" }).click();
  const reference = (await page.locator("#reference").textContent()).trim();
  assert.match(reference, /^FR-[2-9A-Z]{8}$/);
  await check(page, "report-received");
  let reports = [];
  for (let i = 0; i < 50 && !reports.some((r) => r.node.reference === reference); i++) {
    reports = (await gql(COMMS, "{ fakeAccountReports(openOnly: true) { edges { node { reference account } } } }")).fakeAccountReports.edges;
    if (!reports.some((r) => r.node.reference === reference)) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(reports.some((r) => r.node.reference === reference), "the report reaches communications");
  const queue = await gql(COMMS, "{ approvalQueue(role: COMMUNICATIONS, first: 100) { edges { node { step accountKey } } } }");
  assert.ok(queue.approvalQueue.edges.some((e) => e.node.step === "fake_account_report"), "and waits in their queue");

  // The officer's page is reachable from a verification result.
  assert.equal(await verify(page, "instagram.com/north.youthwork"), "verified");
  await page.getByRole("link", { name: "See the officer's page" }).click();
  assert.equal(await page.locator("h1").textContent(), "Olivia Officer");
  assert.match(await page.locator("main").textContent(), /Youth Worker/);
  await check(page, "officer");

  // The dashboard is the staff app's home now, signed in by session: the
  // old address leads there (and so to sign-in), never to a token form.
  await page.goto(`${BASE}/dashboard`);
  assert.match(new URL(page.url()).pathname, /^\/staff\/sign-in/);

  // No JavaScript: the verify form still works.
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const p2 = await plain.newPage();
  await p2.goto(`${BASE}/verify?account=${encodeURIComponent("@NorthLibraries")}`);
  assert.equal(await p2.locator("#result").getAttribute("data-status"), "verified");
  await plain.close();
} finally {
  await browser.close();
}

for (const f of figures) console.log(f);
if (violations.length) {
  console.error(`axe-core found ${violations.length} WCAG 2.2 AA violation(s):\n${violations.join("\n")}`);
  process.exit(1);
}
console.log(`browser tests passed; screenshots in ${SHOTS}`);
