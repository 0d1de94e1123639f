// Opens the console's dashboard in headless Chromium as the admin key, waits for its charts to
// be drawn with data, saves a screenshot, and prints a JSON report for
// tests/acceptance/test_monitoring.py: which charts were drawn, with how many points, whether
// each canvas holds a drawing, and what the alarm banner and cost cards say.
//
//   CONSOLE_URL=http://127.0.0.1:9001/ ADMIN_KEY=… ADMIN_SECRET=… SHOTS=… node dashboard.mjs
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = process.env;
const profile = mkdtempSync(join(tmpdir(), "leadshop-dashboard-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ["--no-sandbox", "--disable-background-networking"],
});
const report = { consoleErrors: [] };
try {
  const page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && report.consoleErrors.push(m.text()));
  page.on("pageerror", (e) => report.consoleErrors.push(String(e)));
  await page.goto(env.CONSOLE_URL);
  await page.fill("#access-key-id", env.ADMIN_KEY);
  await page.fill("#secret-access-key", env.ADMIN_SECRET);
  await page.click("#sign-in");
  await page.waitForSelector("#signed-in-user");
  // The alarm's banner shows on the bucket list already.
  report.bannerOnBuckets = await page.locator("#budget-alarm").textContent({ timeout: 15000 }).catch(() => null);
  await page.click("#dashboard-link");
  await page.waitForSelector("#chart-cost", { timeout: 15000 });
  await page.waitForTimeout(500);
  report.charts = await page.$$eval("canvas", (cs) => cs.map((c) => {
    // A drawn canvas has non-transparent pixels.
    const ctx = c.getContext("2d");
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let inked = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) inked++;
    return { id: c.id, points: Number(c.dataset.points || 0), inked, width: c.width, height: c.height };
  }));
  report.banner = await page.locator("#budget-alarm").textContent().catch(() => null);
  report.actual = await page.locator("#cost-actual").textContent();
  report.health = {
    scrub: await page.locator("#health-scrub").textContent(),
    disk: await page.locator("#health-disk").textContent(),
  };
  report.forecast = await page.locator("#cost-forecast").textContent();
  if (env.SHOTS) await page.screenshot({ path: join(env.SHOTS, "console-dashboard.png"), fullPage: true });
} catch (e) {
  report.failure = String(e.stack || e);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(report));
