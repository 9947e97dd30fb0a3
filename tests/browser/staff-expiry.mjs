// Staff sessions expire, in a real browser: the live list of "What waits
// for you" says so when the session's absolute timeout comes (the server
// closes its socket), the next page asks to sign in again, and a session
// left idle is over too. Started by tests/tests/blackbox/staff_browser.rs
// against a service with short timeouts; signs in from development's list
// of people. Environment: BASE_URL, CHROMIUM.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const BASE = process.env.BASE_URL;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});

async function signIn(name) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${BASE}/staff`);
  assert.match(new URL(page.url()).pathname, /^\/staff\/sign-in/);
  await page.getByRole("button", { name: `Sign in as ${name}` }).click();
  await page.waitForURL(`${BASE}/staff`);
  return page;
}

try {
  // The absolute timeout: the open page learns of it without a click.
  const morgan = await signIn("Morgan Manager");
  await morgan.waitForSelector("#live-status:has-text('updates as things happen')");
  const live = Date.now();
  await morgan.waitForSelector("#live-status:has-text('Your session has ended')", { timeout: 20000 });
  console.log(`session expiry: the open home page said the session had ended ${Date.now() - live} ms after its list went live`);
  await morgan.reload();
  assert.match(new URL(morgan.url()).pathname, /^\/staff\/sign-in/, "the next page asks to sign in");

  // The idle timeout: a page used again after it is the sign-in page.
  const alex = await signIn("Alex Applicant");
  await alex.waitForTimeout(2500);
  await alex.getByRole("link", { name: "My registrations" }).click();
  await alex.waitForLoadState();
  assert.match(new URL(alex.url()).pathname, /^\/staff\/sign-in/, "idle, then asked to sign in");
  console.log("staff sessions: the absolute and idle timeouts end them in the browser");
} finally {
  await browser.close();
}
