// The console as a newcomer sees it, at 1280 and 390 px wide (issue 31's polish): measures
// what the eye found wrong and prints a JSON report; tests/acceptance/test_console_polish.py
// checks it. With SHOTS set, saves a screenshot of each page at each width.
//
//   CONSOLE_URL=http://127.0.0.1:9001/ ADMIN_KEY=… ADMIN_SECRET=… SHOTS=dir node polish.mjs
//
// Measured, per width:
// - signOutLines: line boxes of the "Sign out" button's text (1: it does not wrap);
// - brokenTimes: "Last modified" cells whose timestamp wraps inside itself;
// - settings: for each setting shown as text, whether it is pretty JSON (or a single word);
// - missingBucket: on a bucket that does not exist, whether the upload area is shown and the
//   error is;
// - hint: the sign-in page's footer text;
// - pageOverflowsSideways: whether the objects page scrolls sideways (a wide table scrolls in
//   its own box instead).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { openConsoleBrowser } from "./console-browser.mjs";

const env = process.env;
const BUCKET = "leadshop-assets";
const { page, errors, close } = await openConsoleBrowser("leadshop-polish-");
const report = { consoleErrors: errors, widths: {} };

const lines = (sel) =>
  page.$eval(sel, (el) => {
    const r = document.createRange();
    r.selectNodeContents(el);
    // One rectangle per line box the text occupies.
    const tops = new Set([...r.getClientRects()].map((x) => Math.round(x.top)));
    return tops.size;
  });

async function shot(width, name) {
  if (!env.SHOTS) return;
  mkdirSync(env.SHOTS, { recursive: true });
  await page.screenshot({ path: join(env.SHOTS, `${width}-${name}.png`) });
}

try {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    const out = {};
    await page.context().clearCookies();
    await page.goto(env.CONSOLE_URL);
    await page.waitForSelector("#sign-in");
    out.hint = (await page.textContent("article footer")).replace(/\s+/g, " ").trim();
    await shot(width, "sign-in");
    await page.fill("#access-key-id", env.ADMIN_KEY);
    await page.fill("#secret-access-key", env.ADMIN_SECRET);
    await page.click("#sign-in");
    await page.waitForSelector("#sign-out");
    out.signOutLines = await lines("#sign-out");

    await page.goto(`${env.CONSOLE_URL}#/b/${BUCKET}/${env.PREFIX || ""}`);
    await page.waitForSelector("#objects tbody tr[data-key]", { timeout: 30_000 });
    out.brokenTimes = await page.$$eval("#objects tbody tr[data-key]", (rows) =>
      rows
        .map((row) => row.querySelector("td.modified") || row.children[3])
        .filter((td) => {
          const r = document.createRange();
          r.selectNodeContents(td);
          return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size > 1;
        }).length,
    );
    await shot(width, "objects");
    out.pageOverflowsSideways = await page.evaluate(
      () => document.documentElement.scrollWidth > window.innerWidth,
    );
    out.signOutLinesOnBucket = await lines("#sign-out");

    await page.click("#tab-settings");
    await page.waitForSelector("#setting-cors");
    await page.waitForFunction(() => !document.querySelector("#settings [aria-busy=true]"));
    out.settings = await page.$$eval("#settings article", (articles) =>
      Object.fromEntries(
        articles
          .map((a) => [a.id.replace(/^setting-/, ""), a.querySelector("pre, textarea")])
          .filter(([, el]) => el)
          .map(([id, el]) => {
            const text = el.value ?? el.textContent;
            let kind = "other";
            if (/^[A-Za-z ]+$/.test(text.trim())) kind = "word";
            else {
              try {
                const doc = JSON.parse(text);
                kind = text === JSON.stringify(doc, null, 2) ? "pretty-json" : "json";
              } catch {
                kind = text.trim().startsWith("<") ? "xml" : "other";
              }
            }
            return [id, kind];
          }),
      ),
    );
    await shot(width, "settings");

    await page.goto(`${env.CONSOLE_URL}#/b/no-such-bucket-${width}/`);
    await page.waitForSelector("#objects-error", { timeout: 30_000 });
    out.missingBucket = {
      error: (await page.textContent("#objects-error")).trim(),
      uploadArea: (await page.$(".uppy-Dashboard, #uploader")) !== null,
      versionsSwitch: (await page.$("#show-versions")) !== null,
    };
    await shot(width, "missing-bucket");
    report.widths[width] = out;
  }
} catch (err) {
  report.failure = String(err && err.stack ? err.stack : err);
} finally {
  await close();
}
console.log(JSON.stringify(report));
