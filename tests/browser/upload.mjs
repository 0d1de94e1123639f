// Drives LeadFactory's upload page in headless Chromium (Debian's, through playwright-core):
// opens PAGE_URL, uploads FILE with METHOD (POST or PUT), waits for the page to finish, and
// prints a JSON report: the page's result, the console errors (CORS refusals show there),
// and, with SCREENSHOT set, saves a screenshot of the page.
//
//   PAGE_URL=http://localhost:3000/ FILE=/tmp/10MB.bin METHOD=POST \
//   BROWSER_HOME=<a HOME whose .pki/nssdb trusts leadshop's dev CA> node upload.mjs
//
// Certificates are checked as a user's browser checks them: Chromium reads the CAs it trusts
// from $HOME/.pki/nssdb, which the test makes fresh with `certutil` (libnss3-tools) holding
// leadshop's development CA (and the staging page's test CA). No certificate error is ignored,
// so a wrong per-host certificate fails the upload.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const { PAGE_URL, FILE, METHOD = "POST", BROWSER_HOME, HOST_RULES = "", SCREENSHOT } =
  process.env;
if (!BROWSER_HOME) throw new Error("BROWSER_HOME (with .pki/nssdb) is required");
const args = ["--no-sandbox", "--disable-background-networking"];
if (HOST_RULES) args.push(`--host-resolver-rules=${HOST_RULES}`);
const profile = mkdtempSync(join(tmpdir(), "leadshop-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args,
  env: { ...process.env, HOME: BROWSER_HOME },
});
const consoleErrors = [];
let report;
try {
  const page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(PAGE_URL);
  await page.setInputFiles("#file", FILE);
  await page.selectOption("#method", METHOD);
  const t0 = Date.now();
  await page.click("#upload");
  await page.waitForFunction(
    () => ["done", "failed"].includes(document.body.dataset.state),
    null,
    { timeout: 60_000 },
  );
  const elapsedMs = Date.now() - t0;
  const result = JSON.parse(await page.textContent("#status"));
  if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true });
  report = { result, elapsedMs, consoleErrors, origin: await page.evaluate(() => location.origin) };
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(report));
