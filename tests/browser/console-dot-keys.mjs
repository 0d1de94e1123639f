// Issue 26's console attack, in headless Chromium exactly as the probe ran it: the app key has
// uploaded `../leadshop-security-logs/s3-access/secret.txt` (twice) to leadshop-assets; an
// admin browses the console's folders `..` → `leadshop-security-logs` → `s3-access`, shows
// versions, clicks Restore on the older version and Delete on the current one, and downloads
// an object whose key is exactly `..`. Before the fix the browser resolved the dot segments of
// the request URL, so Restore wrote the attacker's bytes into leadshop-security-logs and
// Delete put a delete marker on its log object. The pytest side
// (tests/acceptance/test_issue26_console.py) checks both buckets with boto3.
//
//   CONSOLE_URL=… ADMIN_KEY=… ADMIN_SECRET=… SHOTS=… node console-dot-keys.mjs
import { readFileSync } from "node:fs";
import { openConsoleBrowser } from "./console-browser.mjs";

const env = process.env;
const BUCKET = "leadshop-assets";
const KEY = "../leadshop-security-logs/s3-access/secret.txt";
const { page, errors, shot, close } = await openConsoleBrowser("leadshop-dot-keys-");
const report = { consoleErrors: errors, requests: [] };
// Every S3 request the page sent, as the browser sent it (after its URL parser).
page.on("request", (r) => {
  const u = new URL(r.url());
  if (u.pathname.startsWith("/s3")) report.requests.push(`${r.method()} ${u.pathname}${u.search}`);
});
const rows = `tr[data-key="${KEY}"]`;
const folder = (name) => page.getByRole("link", { name, exact: true });

try {
  await page.goto(env.CONSOLE_URL);
  await page.fill("#access-key-id", env.ADMIN_KEY);
  await page.fill("#secret-access-key", env.ADMIN_SECRET);
  await page.click("#sign-in");
  await page.waitForSelector("#buckets");
  await page.click(`#buckets a:text("${BUCKET}")`);
  await page.waitForSelector("#objects");

  // Through the folders, as the admin did.
  await folder("../").click();
  await folder("leadshop-security-logs/").click();
  await folder("s3-access/").click();
  await page.waitForSelector(rows);
  report.crumbs = await page.textContent("nav.crumbs");
  const notice = await page.$("#dotted-prefix");
  report.notice = notice && (await notice.textContent());
  await page.check("#show-versions");
  await page.waitForFunction((sel) => document.querySelectorAll(sel).length >= 2, rows, { timeout: 15_000 });
  await shot("console-dot-keys.png");
  const versions = await page.$$eval(rows, (r) => r.map((x) => x.dataset.version));
  report.versionsBefore = versions;

  // Restore the older version: a new version of the same key of leadshop-assets.
  await page.click(`${rows}[data-version="${versions[versions.length - 1]}"] button.restore`);
  await page.waitForFunction((sel) => document.querySelectorAll(sel).length >= 3, rows, { timeout: 15_000 });
  report.restoreMessage = await page.textContent("#object-message");

  // Delete the current version: a delete marker on the same key of leadshop-assets.
  await page.click(`${rows}.current button.delete`);
  await page.waitForFunction(
    (sel) => [...document.querySelectorAll(sel)].some((r) => r.textContent.includes("delete marker")),
    rows, { timeout: 15_000 },
  );
  report.deleteMessage = await page.textContent("#object-message");
  await shot("console-dot-keys-after.png");

  // The key `..` at the top of the bucket (back there by the first crumb): downloaded as itself.
  await page.click(`nav.crumbs a:text("${BUCKET}")`);
  await page.waitForSelector('tr[data-key=".."]');
  const [download] = await Promise.all([
    page.waitForEvent("download", { timeout: 30_000 }),
    page.click('tr[data-key=".."] button.download'),
  ]);
  report.dotDotDownload = readFileSync(await download.path(), "utf8");

} catch (e) {
  report.failure = String(e && e.stack ? e.stack : e);
  await shot("console-dot-keys-failure.png").catch(() => {});
} finally {
  await close();
}
console.log(JSON.stringify(report));
