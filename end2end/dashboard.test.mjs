// The dashboard in a real browser: every page loads and hydrates, a client-side action calls a
// server function and updates the page without a reload, and the theme switch works.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSlipway, launchBrowser, adminPage, openHydrated, screenshotDir, deliver } from "./harness.mjs";

let slipway;
let browser;

before(async () => {
  slipway = await startSlipway();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await slipway?.stop();
});

const PAGES = [
  ["/previews", "Previews", "No previews yet"],
  ["/pipelines", "Pipelines", "No pipelines yet"],
  ["/operator", "Operator", "No environments to measure"],
  ["/deliveries", "Deliveries", "No deliveries received"],
  ["/settings", "Settings", "No repositories yet"],
];

test("every page loads, hydrates and explains its empty state", async () => {
  const page = await adminPage(browser, slipway);
  for (const [path, title, emptyState] of PAGES) {
    const response = await openHydrated(page, slipway.base + path);
    assert.equal(response.status(), 200, path);
    assert.equal(await page.locator("h1").innerText(), title);
    await page.getByText(emptyState).first().waitFor();
    const current = page.locator('nav[aria-label="Main"] a[aria-current="page"]');
    assert.equal(await current.innerText(), title, `${path} highlights its navigation entry`);
    const styled = await page.locator("h1").evaluate((h1) => getComputedStyle(h1).fontWeight);
    assert.equal(styled, "600", "tailwind styles are loaded");
    await page.screenshot({ path: join(screenshotDir, `${path.slice(1)}.png`), fullPage: true });
  }
  assert.deepEqual(page.problems, []);
});

test("navigation between pages happens client-side", async () => {
  const page = await adminPage(browser, slipway);
  await openHydrated(page, slipway.base + "/previews");
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.locator('nav[aria-label="Main"]').getByText("Operator").click();
  await page.waitForURL("**/operator");
  // The dependency table is fetched by a server function after the client-side navigation.
  await page.getByRole("cell", { name: "in-process" }).waitFor();
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "no full page load");
  assert.deepEqual(page.problems, []);
});

test("adding a repository calls a server function and updates the list in place", async () => {
  const page = await adminPage(browser, slipway);
  await openHydrated(page, slipway.base + "/settings");
  await page.evaluate(() => { window.__sameDocument = true; });

  const form = page.getByTestId("add-repository");
  await form.getByLabel("Name").fill("acme/shop");
  await form.getByLabel("Clone URL").fill("not a url");
  await form.getByRole("button", { name: "Add repository" }).click();
  await page.getByRole("alert").getByText("clone URL `not a url` is not valid").waitFor();

  await form.getByLabel("Clone URL").fill("https://github.com/acme/shop.git");
  await form.getByRole("button", { name: "Add repository" }).click();
  const list = page.getByTestId("repository-list");
  await list.getByText("acme/shop", { exact: true }).waitFor();
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was not reloaded");
  assert.equal(await form.getByLabel("Clone URL").inputValue(), "", "the form is cleared for the next one");
  await page.screenshot({ path: join(screenshotDir, "settings-with-repository.png"), fullPage: true });

  await list.getByRole("button", { name: "Remove" }).click();
  await list.getByRole("button", { name: "Remove for good" }).click();
  await page.getByTestId("no-repositories").waitFor();
  // Only the deliberate invalid-input attempt may have logged an error response.
  assert.deepEqual(page.problems.filter((p) => !p.includes("status of 4") && !p.includes("status of 5")), []);
});

test("the theme switch turns dark mode on and remembers it", async () => {
  const page = await adminPage(browser, slipway, { colorScheme: "light" });
  await openHydrated(page, slipway.base + "/previews");
  const isDark = () => page.evaluate(() => document.documentElement.classList.contains("dark"));
  assert.equal(await isDark(), false);
  await page.getByTestId("theme-toggle").click();
  assert.equal(await isDark(), true);
  await page.screenshot({ path: join(screenshotDir, "previews-dark.png"), fullPage: true });
  await openHydrated(page, slipway.base + "/settings");
  assert.equal(await isDark(), true, "the choice survives a full page load");
  assert.deepEqual(page.problems, []);
});

test("pages work without JavaScript", async () => {
  const page = await adminPage(browser, slipway, { javaScriptEnabled: false });
  const response = await page.goto(slipway.base + "/settings");
  assert.equal(response.status(), 200);
  assert.equal(await page.locator("h1").innerText(), "Settings");
  // Data that loads on the server is in the page itself, not left behind a loading placeholder.
  await page.getByText("sqlite (ready)").waitFor();
  assert.equal(await page.locator('[aria-busy="true"]').count(), 0);
});

test("a delivery appears on the open Deliveries page without a reload", async () => {
  const page = await adminPage(browser, slipway);
  await openHydrated(page, slipway.base + "/deliveries");
  await page.getByText("No deliveries received").waitFor();
  await page.evaluate(() => { window.__sameDocument = true; });
  const status = await deliver(slipway.base, "ping", "e2e-live-1", { zen: "Keep it logically awesome.", hook_id: 1 });
  assert.equal(status, 202);
  await page.getByRole("link", { name: "e2e-live-1" }).waitFor();
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload");
  await page.screenshot({ path: join(screenshotDir, "deliveries-live.png"), fullPage: true });
  assert.deepEqual(page.problems, []);
});
