// The staff app in a real browser: Debian's headless Chromium driven by
// playwright-core, signing in through a real OpenID provider
// (oidc-provider.mjs), each level's journey by the people the framework
// names, a refusal, a run without JavaScript and one by keyboard only;
// axe-core at WCAG 2.2 AA on every page state, and screenshots at 390 and
// 1280 pixels. Started by tests/tests/blackbox/staff_browser.rs, which runs
// the provider and the service. Exits non-zero on the first failure.
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
mkdirSync(SHOTS, { recursive: true });
const SIZES = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } };
const violations = [];
const figures = [];

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
    await page.screenshot({ path: `${SHOTS}/staff-${name}-${size}.png`, fullPage: true });
  }
  await page.setViewportSize(SIZES.desktop);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});

/** A person's own browser, signed in through the identity provider. */
async function signIn(who, options = {}) {
  // bypassCSP only so axe-core can be injected; the pages run under their CSP.
  const context = await browser.newContext({ viewport: SIZES.desktop, bypassCSP: true, ...options });
  const page = await context.newPage();
  await page.goto(`${BASE}/staff`);
  assert.match(page.url(), /\/staff\/sign-in/);
  await page.getByRole("button", { name: "Sign in with your council account" }).click();
  // The provider's own login and consent pages.
  await page.locator('input[name="login"]').fill(who);
  await page.locator('input[name="password"]').fill("any");
  await page.getByRole("button", { name: "Sign-in" }).click();
  const consent = page.getByRole("button", { name: "Continue" });
  if (await consent.count()) await consent.click();
  await page.waitForURL(`${BASE}/staff`);
  assert.equal(await page.locator("h1").textContent(), "What waits for you");
  return page;
}

async function fillCommon(page, { platform, account, service }) {
  await page.getByLabel("Social media site").selectOption(platform);
  await page.getByLabel("The account's address or handle").fill(account);
  await page.getByLabel("Service (business area)").selectOption(service);
  await pick(page, "Business contact", "Casey Contact");
}

/** Name a colleague with the person picker: type part of their name, choose
 * them from what the directory finds (live with JavaScript; with "Find"
 * without it). */
async function pick(page, whose, name) {
  await page.getByLabel(`${whose}: search by name`).fill(name.split(" ")[0].slice(0, 4));
  const js = await page.evaluate(() => document.body.classList.contains("js-enabled")).catch(() => false);
  if (!js) {
    await page.getByRole("button", { name: `Find the ${whose.toLowerCase()}` }).click();
    await page.waitForLoadState();
  }
  const radio = page.getByRole("radio", { name });
  await radio.waitFor({ timeout: 10000 });
  await radio.check();
  await page.getByRole("button", { name: `Choose the ${whose.toLowerCase()}` }).click();
  await page.waitForLoadState();
  await page.locator(`.staff-chosen:has-text("${name}")`).waitFor();
}

async function acknowledgeAndSubmit(page, name) {
  await page.getByLabel(/I have read and will follow the social media policy/).check();
  await page.getByLabel(/corporate identity guidelines/).check();
  await page.getByRole("button", { name: "Continue" }).click();
  assert.equal(await page.locator("h1").textContent(), "Check your answers before submitting");
  if (name) await check(page, `${name}-check-answers`);
  await page.getByRole("button", { name: "Submit the registration" }).click();
  await page.waitForLoadState();
  assert.match(page.url(), /\/staff\/registrations\//, await page.locator("main").textContent());
  return page.url();
}

async function act(page, url, button, fields = {}) {
  await page.goto(url);
  if (!(await page.getByRole("button", { name: button, exact: true }).count())) {
    throw new Error(`no “${button}” on ${url}: ${await page.locator("main").textContent()}`);
  }
  for (const [label, value] of Object.entries(fields)) await page.getByLabel(label).fill(value);
  await page.getByRole("button", { name: button, exact: true }).click();
  await page.waitForLoadState();
  const refused = await page.locator(".govuk-error-summary").count();
  assert.equal(refused, 0, `${button}: ${await page.locator("main").textContent()}`);
}

async function publish(comms, url, name) {
  await act(comms, url, "Approve");
  await act(comms, url, "Publish");
  await comms.goto(url);
  assert.match(await comms.locator("main").textContent(), /Published/);
  if (name) await check(comms, `${name}-published`);
}

async function verified(page, account) {
  await page.goto(`${BASE}/verify?account=${encodeURIComponent(account)}`);
  return page.locator("#result").getAttribute("data-status");
}

try {
  const applicant = await signIn("u-applicant");
  await check(applicant, "home-applicant");
  const comms = await signIn("u-comms");
  await check(comms, "home-communications");

  // Level 1: staff submits; communications approves the logo, approves and publishes.
  await applicant.goto(`${BASE}/staff/new`);
  await check(applicant, "choose-level");
  await applicant.getByRole("link", { name: "Register at level 1" }).click();
  await check(applicant, "level-1-form");
  // Continuing with nothing filled in: an error summary, each error by its field.
  await applicant.getByRole("button", { name: "Continue" }).click();
  assert.match(await applicant.locator(".govuk-error-summary").textContent(), /enter the account's address or handle/i);
  await check(applicant, "level-1-errors");
  await fillCommon(applicant, { platform: "X", account: "https://x.com/NorthBrowserOne", service: "libraries" });
  await applicant.getByLabel("What kind of information it will post").fill("Opening hours, Events");
  await applicant.getByLabel("Logo: what it is (optional)").fill("Summer reading logo");
  await applicant.getByLabel("Logo: where it is kept (optional)").fill("DAM-17");
  const one = await acknowledgeAndSubmit(applicant, "level-1");
  await check(applicant, "level-1-submitted");
  await comms.goto(one);
  await check(comms, "level-1-for-communications");
  await act(comms, one, "Approve the logo “Summer reading logo”");
  await publish(comms, one, "level-1");
  assert.equal(await verified(comms, "https://x.com/NorthBrowserOne"), "verified");

  // A refused action shows its reason: the applicant cannot approve their own.
  const two = await (async () => {
    await applicant.goto(`${BASE}/staff/new/1`);
    await fillCommon(applicant, { platform: "FACEBOOK", account: "https://www.facebook.com/NorthBrowserTwo", service: "libraries" });
    await applicant.getByLabel("What kind of information it will post").fill("News");
    return acknowledgeAndSubmit(applicant);
  })();
  await comms.goto(two);
  await comms.getByLabel("Reject: reason").fill("A page for this service exists already");
  await comms.getByRole("button", { name: "Reject", exact: true }).click();
  await comms.waitForLoadState();
  await applicant.goto(two);
  assert.match(await applicant.locator("main").textContent(), /Rejected/);
  await check(applicant, "rejected");

  // Level 2: with the consultation team's listing.
  const consult = await signIn("u-consult");
  await applicant.goto(`${BASE}/staff/new/2`);
  await fillCommon(applicant, { platform: "YOUTUBE", account: "https://www.youtube.com/@NorthBrowserConsults", service: "libraries" });
  await applicant.getByLabel("Topic or theme of the consultation").fill("Library opening hours");
  await applicant.getByLabel("The consultation opens on").fill("2026-12-01");
  await applicant.getByLabel("The consultation closes on").fill("2027-01-31");
  const level2 = await acknowledgeAndSubmit(applicant, "level-2");
  await act(consult, level2, "Record the listing", { "Consultation Finder reference": "CF-2026-088" });
  await check(consult, "level-2-listed");
  await publish(comms, level2, "level-2");

  // Level 3: the officer records the risk assessment, the line manager signs it.
  const officer = await signIn("u-officer");
  const manager = await signIn("u-manager");
  await applicant.goto(`${BASE}/staff/new/3`);
  await fillCommon(applicant, { platform: "X", account: "https://x.com/NorthYouthWeb", service: "youth" });
  await pick(applicant, "Officer who will use it", "Olivia Officer");
  await check(applicant, "person-picker-chosen");
  await applicant.getByLabel("Officer's job role").selectOption("youth-worker");
  await applicant.getByLabel("Line manager: search by name").fill("morg");
  await applicant.getByRole("radio", { name: "Morgan Manager" }).waitFor({ timeout: 10000 });
  await check(applicant, "person-picker-live");
  await pick(applicant, "Line manager", "Morgan Manager");
  const level3 = await acknowledgeAndSubmit(applicant, "level-3");
  // The line manager's home is open while the officer records the risk
  // assessment: the signature to do appears without a reload.
  await manager.goto(`${BASE}/staff`);
  await manager.waitForSelector("#live-status:has-text('updates as things happen')");
  assert.doesNotMatch(await manager.locator("#queue-region").textContent(), /Sign the risk assessment/);
  await act(officer, level3, "Record the risk assessment", {
    "Date of the assessment": "2026-11-20",
    "A risk you identified": "Messages from young people out of hours",
    "How it is managed": "An automatic reply with office hours",
    "Where the signed document is kept": "RA-2026-031",
  });
  const recorded = Date.now();
  await manager.waitForSelector("#queue:has-text('Sign the risk assessment')", { timeout: 10000 });
  figures.push(`live home: the line manager's queue showed the signature ${Date.now() - recorded} ms after the officer's form returned`);
  await check(manager, "home-line-manager");
  await act(manager, level3, "Sign the risk assessment");
  await publish(comms, level3, "level-3");
  const officerPage = await comms.evaluate(async (base) => {
    const r = await fetch(`${base}/directory.json`);
    return (await r.json()).accounts.find((a) => a.accountKey === "x:northyouthweb")?.officerPage;
  }, BASE);
  assert.ok(officerPage, "the level-3 account has an officer page");
  await comms.goto(`${BASE}${officerPage}`);
  assert.match(await comms.locator("main").textContent(), /Olivia Officer/);

  // Level 4: the senior officer with authority for the topic signs off.
  const senior = await signIn("u-senior");
  await applicant.goto(`${BASE}/staff/new/4`);
  await fillCommon(applicant, { platform: "FACEBOOK", account: "https://www.facebook.com/NorthBrowserParks", service: "libraries" });
  await applicant.getByLabel("Parks and open spaces").check();
  await pick(applicant, "Senior officer responsible", "Sam Senior");
  await applicant.getByLabel("County councillor involved (optional)").fill("Cllr Chris Council");
  await applicant.getByLabel("The councillor's member id (optional)").fill("cllr-chris-council");
  await applicant.getByLabel("The press or media are invited").check();
  await applicant.getByLabel("Press and media arrangements (optional)").fill("A press release before each debate");
  const level4 = await acknowledgeAndSubmit(applicant, "level-4");
  await act(senior, level4, "Sign off as the senior officer");
  await check(senior, "level-4-signed-off");
  await publish(comms, level4, "level-4");
  assert.equal(await verified(comms, "https://www.facebook.com/NorthBrowserParks"), "verified");
  // A published registration's form, filled in, to propose a change.
  await comms.goto(level4);
  await comms.getByRole("button", { name: "Propose a change" }).click();
  await comms.waitForLoadState();
  assert.equal(await comms.getByLabel("Senior officer responsible: search by name").count(), 0, "the senior officer is already chosen");
  assert.match(await comms.locator("main").textContent(), /Sam Senior/);
  await check(comms, "propose-change");

  // A resident reports a fake account: communications' open home shows it
  // without a reload; communications closes it from its page.
  const commsHome = await comms.context().newPage();
  await commsHome.goto(`${BASE}/staff`);
  await commsHome.waitForSelector("#live-status:has-text('updates as things happen')");
  await comms.goto(`${BASE}/report`);
  await comms.getByLabel("The account's web address or handle").fill("https://x.com/NotNorthReally");
  await comms.getByLabel(/What made you think/).fill("Uses the council crest and asks for bank details.");
  await comms.getByRole("button", { name: "Send report" }).click();
  const reported = Date.now();
  await commsHome.waitForSelector("#queue:has-text('A reported fake account')", { timeout: 10000 });
  figures.push(`live home: communications' queue showed the fake-account report ${Date.now() - reported} ms after the report was sent`);
  await commsHome.close();
  await comms.goto(`${BASE}/staff/reports`);
  for (let i = 0; i < 40 && !(await comms.locator("textarea").count()); i++) {
    await comms.waitForTimeout(100);
    await comms.goto(`${BASE}/staff/reports`);
  }
  await check(comms, "fake-reports-open");
  // A form whose CSRF token is not the session's is refused; nothing changes.
  await comms.evaluate(() => {
    for (const input of document.querySelectorAll('form[action$="/close"] input[name="csrf"]')) input.value = "forged";
  });
  await comms.getByLabel("What was done").fill("Reported to the platform as impersonation");
  await comms.getByRole("button", { name: /^Close FR-/ }).click();
  await comms.waitForLoadState();
  assert.equal(await comms.locator("h1").textContent(), "This form has expired");
  await check(comms, "csrf-refused");
  await comms.goto(`${BASE}/staff/reports`);
  assert.match(await comms.locator("main").textContent(), /Open \(1\)/);
  await comms.getByLabel("What was done").fill("Reported to the platform as impersonation");
  await comms.getByRole("button", { name: /^Close FR-/ }).click();
  await comms.waitForLoadState();
  assert.match(await comms.locator("main").textContent(), /Closed \(1\)/);
  await check(comms, "fake-reports-closed");

  // Communications' own pages: the link-back check from the level-3
  // registration, the work queues, insight's charts.
  await act(comms, level3, "Record that the profile links back");
  await comms.goto(`${BASE}/staff/communications`);
  assert.match(await comms.locator("main").textContent(), /Re-validations overdue/);
  await check(comms, "communications");
  await comms.goto(`${BASE}/staff/insight`);
  assert.equal(await comms.locator("svg.staff-chart").count(), 5);
  await check(comms, "insight");
  await consult.goto(`${BASE}/staff/consultation`);
  await check(consult, "consultation");

  // The auditor, signed in through the provider: verification, a history,
  // the registry on a date.
  const auditor = await signIn("u-auditor");
  await auditor.goto(`${BASE}/staff/audit`);
  await auditor.getByRole("button", { name: "Verify" }).click();
  await auditor.waitForLoadState();
  assert.match(await auditor.locator("#chain-result").textContent(), /The chain is intact/);
  await check(auditor, "audit-verified");
  await auditor.goto(level3.replace("/staff/registrations/", "/staff/audit/registrations/"));
  assert.match(await auditor.locator("main").textContent(), /Risk assessment signed/);
  await check(auditor, "audit-history");
  await auditor.goto(`${BASE}/staff/audit/registry`);
  await auditor.getByLabel("Date").fill(new Date().toISOString().slice(0, 10));
  await auditor.getByRole("button", { name: "Show the registry" }).click();
  await auditor.waitForLoadState();
  assert.match(await auditor.locator("#registry-at").textContent(), /x:northyouthweb/);
  await check(auditor, "audit-registry");

  // The admin: reference data, and a refused change beside its field.
  const admin = await signIn("u-admin");
  await admin.goto(`${BASE}/staff/admin`);
  await check(admin, "admin");
  await admin.goto(`${BASE}/staff/admin/units`);
  await admin.getByLabel("Code").fill("parks");
  await admin.getByRole("button", { name: "Save the unit" }).click();
  await admin.waitForLoadState();
  assert.match(await admin.locator(".govuk-error-summary").textContent(), /The name/);
  await check(admin, "admin-units-error");
  for (const area of ["platforms", "policy", "speaking-authority"]) {
    await admin.goto(`${BASE}/staff/admin/${area}`);
    await check(admin, `admin-${area}`);
  }

  // Data protection: what is held about the officer, and the erasure's
  // confirmation step.
  const dpo = await signIn("u-dpo");
  await dpo.goto(`${BASE}/staff/privacy`);
  await dpo.getByLabel("Member of staff's id").fill("u-officer");
  await dpo.getByRole("button", { name: "Find what is held" }).click();
  await dpo.waitForLoadState();
  assert.match(await dpo.locator("#holdings").textContent(), /Olivia Officer/);
  await check(dpo, "privacy-held");
  await dpo.getByRole("button", { name: "Erase this person's personal data" }).click();
  await dpo.waitForLoadState();
  await dpo.getByRole("button", { name: "Erase for good" }).click();
  await dpo.waitForLoadState();
  assert.match(await dpo.locator(".govuk-error-summary").textContent(), /Say why the data is erased/);
  await check(dpo, "privacy-confirm-errors");

  // Without JavaScript, the new-registration form still works end to end.
  const plain = await signIn("u-applicant", { javaScriptEnabled: false });
  await plain.goto(`${BASE}/staff/new/1`);
  await fillCommon(plain, { platform: "INSTAGRAM", account: "https://www.instagram.com/north.browser.plain", service: "libraries" });
  await plain.getByLabel("What kind of information it will post").fill("Events");
  const noJs = await acknowledgeAndSubmit(plain);
  assert.match(await plain.locator("main").textContent(), /Submitted/);
  assert.ok(noJs.includes("/staff/registrations/"));

  // Keyboard only: communications approves and publishes it with Tab and Enter.
  const keys = await signIn("u-comms");
  await keys.goto(noJs);
  for (const button of ["Approve", "Publish"]) {
    let found = false;
    for (let i = 0; i < 80 && !found; i++) {
      await keys.keyboard.press("Tab");
      found = await keys.evaluate((name) => document.activeElement?.textContent?.trim() === name, button);
    }
    assert.ok(found, `${button} is reachable by keyboard`);
    await Promise.all([keys.waitForNavigation(), keys.keyboard.press("Enter")]);
  }
  assert.match(await keys.locator("main").textContent(), /Published/);

  if (violations.length) {
    console.error(violations.join("\n"));
    process.exitCode = 1;
  } else {
    console.log("staff app: every journey passed; axe found no violations");
    for (const f of figures) console.log(f);
  }
} finally {
  await browser.close();
}
