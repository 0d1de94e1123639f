// The headless Chromium the console tests drive (Debian's, through playwright-core): a fresh
// profile, downloads accepted, a 1280 x 900 window; page errors collected in `errors`, and
// `shot(name)` saving a full-page screenshot into $SHOTS when it is set.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export async function openConsoleBrowser(profilePrefix) {
  const profile = mkdtempSync(join(tmpdir(), profilePrefix));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: ["--no-sandbox", "--disable-background-networking"],
  });
  const errors = [];
  const page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  const shot = async (name) => {
    if (process.env.SHOTS) await page.screenshot({ path: join(process.env.SHOTS, name), fullPage: true });
  };
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, errors, shot, close };
}
