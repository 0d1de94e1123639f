// Drives the leadshop console (served by `leadshop serve` on its console listener) in headless
// Chromium, as a user would, and prints a JSON report of what the pages showed; the pytest
// side (tests/acceptance/test_console.py) checks the report and the bucket itself with boto3.
//
//   CONSOLE_URL=http://127.0.0.1:9001/ ADMIN_KEY=… ADMIN_SECRET=… APP_KEY=… APP_SECRET=… \
//   SHOTS=target/browser-screenshots node console.mjs
//
// The flow: a wrong secret is refused; admin signs in, opens leadshop-assets, drops two
// versions of a file on the upload area (presigned POST), sees it listed with AES256,
// downloads it, deletes it, restores the first version; the settings page offers editing.
// Then the app key signs in and sees the same bucket's settings read-only.
import { readFileSync } from "node:fs";
import { openConsoleBrowser } from "./console-browser.mjs";

const env = process.env;
const BUCKET = "leadshop-assets";
const NAME = env.OBJECT_NAME || "console-report.txt";
const FIRST = "first version of the report\n";
const SECOND = "second version of the report, a little longer\n";
const { context, page, errors, shot, close } = await openConsoleBrowser("leadshop-console-");
const report = { consoleErrors: errors, steps: [] };
const step = (s) => report.steps.push(s);
const row = (version) =>
  version ? `tr[data-key="${NAME}"][data-version="${version}"]` : `tr[data-key="${NAME}"]`;

async function signIn(key, secret) {
  await page.goto(env.CONSOLE_URL);
  await page.fill("#access-key-id", key);
  await page.fill("#secret-access-key", secret);
  await page.click("#sign-in");
}

async function drop(content) {
  const dt = await page.evaluateHandle(
    ([name, text]) => {
      const d = new DataTransfer();
      d.items.add(new File([text], name, { type: "text/plain" }));
      return d;
    },
    [NAME, content],
  );
  await page.dispatchEvent(".uppy-Dashboard", "dragover", { dataTransfer: dt });
  await page.dispatchEvent(".uppy-Dashboard", "drop", { dataTransfer: dt });
}

async function encryptionShown(expectedVersions) {
  // The listing reloads after each upload; wait until it shows the object and its encryption.
  await page.waitForFunction(
    ([sel, n]) => {
      const rows = document.querySelectorAll(sel);
      return rows.length >= n && [...rows].every((r) => r.querySelector(".encryption").textContent);
    },
    [row(), expectedVersions],
    { timeout: 30_000 },
  );
  return page.$$eval(row(), (rows) =>
    rows.map((r) => ({
      version: r.dataset.version,
      current: r.classList.contains("current"),
      encryption: r.querySelector(".encryption").textContent,
      text: r.textContent,
    })),
  );
}

// Opens the settings tab and reports which editing controls it offers.
async function settings() {
  await page.click("#tab-settings");
  await page.waitForSelector("#setting-cors");
  await page.waitForFunction(() => !document.querySelector("#settings [aria-busy=true]"));
  const has = async (sel) => (await page.$(sel)) !== null;
  return {
    corsEditor: await has("#edit-cors"),
    policyEditor: await has("#edit-policy"),
    versioningControls: await has("#versioning-controls"),
    readOnlyNote: await has("#read-only-note"),
    policy: await page.textContent("#setting-policy"),
    encryption: await page.textContent("#setting-encryption"),
    versioning: await page.textContent("#setting-versioning"),
    replication: await page.textContent("#setting-replication"),
  };
}

try {
  // A wrong secret cannot sign in.
  await signIn(env.ADMIN_KEY, "not-the-secret");
  await page.waitForSelector("#sign-in-error", { timeout: 15_000 });
  report.wrongSecret = {
    error: await page.textContent("#sign-in-error"),
    signedIn: (await page.$("#signed-in-user")) !== null,
  };
  await shot("console-sign-in-refused.png");

  // Admin signs in and sees the buckets.
  await signIn(env.ADMIN_KEY, env.ADMIN_SECRET);
  await page.waitForSelector("#signed-in-user");
  await page.waitForSelector("#buckets");
  report.admin = {
    user: await page.textContent("#signed-in-user"),
    buckets: await page.$$eval("#buckets tbody tr td:first-child", (tds) => tds.map((t) => t.textContent)),
    cookies: (await context.cookies()).map((c) => ({
      name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, expires: c.expires,
    })),
  };
  await shot("console-buckets.png");

  // The page cannot call the S3 gateway without the session's CSRF token.
  report.withoutCsrf = await page.evaluate(async (b) => {
    const r = await fetch(`/s3/${b}?list-type=2`, { credentials: "same-origin" });
    return r.status;
  }, BUCKET);

  // Upload two versions by drag and drop.
  await page.click(`#buckets a:text("${BUCKET}")`);
  await page.waitForSelector(".uppy-Dashboard");
  await page.waitForSelector("#objects");
  await drop(FIRST);
  await page.waitForSelector(".uppy-StatusBar.is-complete", { timeout: 30_000 });
  await encryptionShown(1);
  step("uploaded the first version");
  await drop(SECOND);
  await page.waitForFunction(() => document.querySelectorAll(".uppy-Dashboard-Item").length >= 2);
  await page.waitForSelector(".uppy-StatusBar.is-complete", { timeout: 30_000 });
  report.listed = await encryptionShown(1);
  await shot("console-objects.png");

  // Download the current version.
  const [download] = await Promise.all([
    page.waitForEvent("download", { timeout: 30_000 }),
    page.click(`${row()} button.download`),
  ]);
  report.download = {
    name: download.suggestedFilename(),
    content: readFileSync(await download.path(), "utf8"),
  };

  // Delete it: it disappears from the listing.
  await page.click(`${row()} button.delete`);
  await page.waitForSelector("#object-message");
  await page.waitForFunction((sel) => !document.querySelector(sel), row(), { timeout: 15_000 });
  report.deleted = { message: await page.textContent("#object-message") };

  // The versions: a delete marker and two versions; restore the oldest.
  await page.check("#show-versions");
  await page.waitForFunction((sel) => document.querySelectorAll(sel).length >= 3, row(), { timeout: 15_000 });
  report.versions = await encryptionShown(3);
  await shot("console-versions.png");
  const oldest = report.versions[report.versions.length - 1].version;
  await page.click(`${row(oldest)} button.restore`);
  await page.waitForFunction(
    (sel) => document.querySelectorAll(sel).length >= 4, row(), { timeout: 15_000 },
  );
  report.restored = {
    message: await page.textContent("#object-message"),
    versions: await encryptionShown(4),
    oldest,
  };
  await shot("console-restored.png");

  // A prefix of more than one page: 100 rows, then the rest on the next page.
  if (env.PAGING_PREFIX) {
    const rows = "#objects tbody tr[data-key]";
    // The listing of the prefix shown (not the previous one), `n` rows of it.
    const shown = (test) => page.waitForFunction(
      ([sel, prefix, t]) => {
        const r = [...document.querySelectorAll(sel)];
        return r.length > 0 && r.every((x) => x.dataset.key.startsWith(prefix))
          && (t === "full" ? r.length === 100 : r.length < 100);
      },
      [rows, env.PAGING_PREFIX, test],
      { timeout: 30_000 },
    );
    await page.goto(`${env.CONSOLE_URL}#/b/${BUCKET}/${env.PAGING_PREFIX}`);
    await shown("full");
    const count = () => page.$$eval(rows, (r) => r.length);
    const firstPage = await count();
    await page.click("#next-page");
    await shown("rest");
    report.paging = { firstPage, secondPage: await count(),
      nextEnabled: await page.isEnabled("#next-page"), previousEnabled: await page.isEnabled("#previous-page") };
    await page.goto(`${env.CONSOLE_URL}#/b/${BUCKET}/`);
    await page.waitForSelector("#objects");
  }

  // Settings: the admin key may edit.
  report.adminSettings = await settings();
  report.adminSettings.cors = await page.inputValue("#edit-cors textarea");
  await shot("console-settings-admin.png");

  // The app key: the same bucket, settings read-only.
  await page.click("#sign-out");
  await page.waitForSelector("#sign-in");
  await signIn(env.APP_KEY, env.APP_SECRET);
  await page.waitForSelector("#signed-in-user");
  await page.waitForSelector("#buckets-error");
  report.app = {
    user: await page.textContent("#signed-in-user"),
    bucketsError: await page.textContent("#buckets-error"),
    policyBuckets: await page.$$eval("#policy-buckets a", (a) => a.map((x) => x.textContent)),
  };
  await page.fill("#open-bucket", BUCKET);
  await page.press("#open-bucket", "Enter");
  await page.waitForSelector("#objects");
  report.app.listed = await page.$$eval(row(), (rows) => rows.length);
  report.appSettings = await settings();
  await shot("console-settings-app.png");
} catch (e) {
  report.failure = String(e && e.stack ? e.stack : e);
  await shot("console-failure.png").catch(() => {});
} finally {
  await close();
}
console.log(JSON.stringify(report));
