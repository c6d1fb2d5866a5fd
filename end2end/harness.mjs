// Starts a release `slipway` on a free port with its own data dir, and Debian's Chromium through
// playwright-core. Waits for the server's own "serving" log line, never a fixed delay.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createHmac } from "node:crypto";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const screenshotDir = join(here, "screenshots");

const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once the `slipway serve` in `child` logs that it is serving (30 s at most) with its
 * log so far, kept up to date in `.text`; rejects with the log if it exits first.
 */
export function untilServing(child) {
  const log = { text: "" };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`slipway did not start:\n${log.text}`)), 30_000);
    child.stderr.on("data", (chunk) => {
      log.text += chunk;
      if (log.text.includes("serving the dashboard")) { clearTimeout(timer); resolve(log); }
    });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`slipway exited with ${code}:\n${log.text}`)); });
  });
}

/** The webhook secret the Slipway under test checks deliveries against. */
export const WEBHOOK_SECRET = "e2e-webhook-secret";

/**
 * Starts Slipway (with `env` added to its settings); resolves once it logs that it is serving.
 * It answers the first admin's password (from the file Slipway says it wrote), an admin token
 * made with `slipway tokens create`, and `api()`, a fetch that sends that token.
 */
export async function startSlipway(env = {}) {
  const bin = process.env.SLIPWAY_BIN;
  if (!bin) throw new Error("SLIPWAY_BIN must point at the release slipway binary (scripts/test sets it)");
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "slipway-e2e-"));
  const settings = {
    ...process.env,
    SLIPWAY_LISTEN: `127.0.0.1:${port}`,
    SLIPWAY_DATA_DIR: dataDir,
    SLIPWAY_LOG_FORMAT: "json",
    SLIPWAY_GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    ...env,
  };
  const child = spawn(bin, ["serve"], { env: settings, stdio: ["ignore", "ignore", "pipe"] });
  const log = await untilServing(child);
  const passwordFile = join(dataDir, "initial-admin-password");
  /** Runs `slipway ARGS` beside the server, as an operator would; resolves with its output. */
  const cli = (args, input) =>
    execFileSync(bin, args, { env: { ...settings, SLIPWAY_LOG: "warn" }, input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] }).trim();
  const token = cli(["tokens", "create", "--user", "admin", "--scope", "admin", "--name", "browser tests"]);
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    passwordFile,
    adminPassword: readFileSync(passwordFile, "utf8").trim(),
    token,
    cli,
    /** `fetch` on the API with the admin token. */
    api(path, init = {}) {
      return fetch(base + path, { ...init, headers: { ...(init.headers || {}), authorization: `Bearer ${token}` } });
    },
    log: () => log.text,
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  mkdirSync(screenshotDir, { recursive: true });
  return chromium.launch({ executablePath: process.env.SLIPWAY_CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

/** A page that records uncaught errors and console errors, so tests can assert there were none. */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") page.problems.push(`console: ${message.text()}`);
  });
  return page;
}

/** Signs `page` in on the sign-in page with a login and password; waits for the dashboard. */
export async function signIn(page, base, login, password) {
  await page.goto(base + "/login");
  await page.getByLabel("Login").fill(login);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname !== "/login", { timeout: 15_000 });
}

/** A new page, signed in as the first admin. */
export async function adminPage(browser, slipway, options = {}) {
  const page = await newPage(browser, options);
  await signIn(page, slipway.base, "admin", slipway.adminPassword);
  return page;
}

/** Navigates and waits until the wasm bundle has hydrated the page. */
export async function openHydrated(page, url) {
  const response = await page.goto(url);
  await page.locator('[data-hydrated="true"]').waitFor({ timeout: 15_000 });
  return response;
}

/** Sends a GitHub delivery signed with the test secret; resolves with the HTTP status. */
export async function deliver(base, event, id, payload) {
  const body = JSON.stringify(payload);
  const signature = "sha256=" + createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex");
  const answer = await fetch(base + "/webhooks/github", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": id,
      "x-hub-signature-256": signature,
    },
    body,
  });
  return answer.status;
}
