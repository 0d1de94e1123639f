// Drives LeadFactory's upload page in headless Chromium (Debian's, through playwright-core):
// opens PAGE_URL, uploads FILE with METHOD (POST or PUT), waits for the page to finish, and
// prints a JSON report: the page's result, the console errors (CORS refusals show there),
// and, with SCREENSHOT set, saves a screenshot of the page.
//
//   PAGE_URL=http://localhost:3000/ FILE=/tmp/10MB.bin METHOD=POST \
//   TRUSTED_SPKI=<base64 sha256 of the S3 and page certificates' keys> node upload.mjs
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const { PAGE_URL, FILE, METHOD = "POST", TRUSTED_SPKI = "", HOST_RULES = "", SCREENSHOT } =
  process.env;
const args = ["--no-sandbox", "--disable-background-networking"];
// Only these certificates are trusted beyond the system's: leadshop's and the page's.
if (TRUSTED_SPKI) args.push(`--ignore-certificate-errors-spki-list=${TRUSTED_SPKI}`);
if (HOST_RULES) args.push(`--host-resolver-rules=${HOST_RULES}`);
const profile = mkdtempSync(join(tmpdir(), "leadshop-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args,
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
