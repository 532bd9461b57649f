// A real browser for Accord's page tests: Debian's chromium, driven by playwright-core
// (nothing downloads a browser: the executable is the system's). The Rust test sends one
// JSON command per line on stdin and reads one JSON answer per line on stdout, so the
// test itself stays in Rust, beside the mail it reads and the API it checks.
//
// Commands: {"op":"goto","url"} → {"status","url","title"}
//           {"op":"fill","selector","value"}  {"op":"click","selector"} (waits for the page)
//           {"op":"setValue","selector","value"} (a hidden field, as a forger would set it)
//           {"op":"select","selector","value"} (an option of a list, as a person picks it)
//           {"op":"submit","selector"} (click, then the answer's status)
//           {"op":"text","selector"} → {"text"}   {"op":"html"} → {"html"}
//           {"op":"cookies"} → {"cookies":[...]}   {"op":"axe"} → {"violations":[...]}
//           {"op":"screenshot","path"}   {"op":"setCookie","cookie"}   {"op":"close"}
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const executablePath = process.env.ACCORD_TEST_CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const context = await browser.newContext({ locale: process.env.ACCORD_TEST_LOCALE || "en-GB" });
const page = await context.newPage();
page.setDefaultTimeout(15000);
let lastStatus = null;
page.on("response", (r) => {
  if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) lastStatus = r.status();
});

async function run(cmd) {
  switch (cmd.op) {
    case "goto": {
      const r = await page.goto(cmd.url, { waitUntil: "load" });
      return { status: r ? r.status() : null, url: page.url(), title: await page.title() };
    }
    case "fill":
      await page.fill(cmd.selector, cmd.value);
      return {};
    case "click":
    case "submit": {
      // The next document's load: a form's answer, after any redirects.
      lastStatus = null;
      const loaded = page.waitForEvent("load");
      await page.click(cmd.selector);
      await loaded;
      return { status: lastStatus, url: page.url(), title: await page.title() };
    }
    case "select":
      await page.locator(cmd.selector).first().selectOption(cmd.value);
      return {};
    case "setValue":
      // A hidden field set as a forger would (the pages themselves run no script).
      await page.locator(cmd.selector).first().evaluate((el, v) => { el.value = v; }, cmd.value);
      return {};
    case "text":
      return { text: (await page.textContent(cmd.selector)) ?? "" };
    case "html":
      return { html: await page.content() };
    case "cookies":
      return { cookies: await context.cookies() };
    case "clearCookies":
      await context.clearCookies();
      return {};
    case "setCookie":
      await context.addCookies([cmd.cookie]);
      return {};
    case "axe": {
      // Evaluated through the DevTools protocol, which the page's CSP (no script of its
      // own) does not govern; the page itself never runs it.
      await page.evaluate(`${axeSource}\n;0`);
      const result = await page.evaluate(async () =>
        window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
      );
      return {
        violations: result.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          nodes: v.nodes.map((n) => n.target.join(" ")),
        })),
      };
    }
    case "screenshot":
      await page.screenshot({ path: cmd.path, fullPage: true });
      return {};
    case "close":
      await browser.close();
      return {};
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
process.stdout.write(JSON.stringify({ ready: true }) + "\n");
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = { ok: true, ...(await run(JSON.parse(line))) };
  } catch (e) {
    answer = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
  if (JSON.parse(line).op === "close") break;
}
process.exit(0);
