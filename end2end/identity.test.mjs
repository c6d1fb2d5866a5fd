// Signing in, in a real browser: a visitor is sent to the sign-in page, which says where the
// first admin's password is; a wrong password is refused in words; the right one leads back to
// the page asked for; a reader sees a repository's runs but is refused a change; signing out
// ends the session.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSlipway, launchBrowser, newPage, signIn, screenshotDir } from "./harness.mjs";

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

test("a visitor signs in with the first admin's password and signs out", async () => {
  const page = await newPage(browser);
  await page.goto(slipway.base + "/pipelines");
  await page.waitForURL("**/login?next=%2Fpipelines");
  await page.getByText(slipway.passwordFile).waitFor();
  await page.screenshot({ path: join(screenshotDir, "login.png"), fullPage: true });

  await page.getByLabel("Login").fill("admin");
  await page.getByLabel("Password").fill("not the password at all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").getByText("the login or the password is wrong").waitFor();

  await page.getByLabel("Login").fill("admin");
  await page.getByLabel("Password").fill(slipway.adminPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL("**/pipelines");
  await page.locator('[data-hydrated="true"]').waitFor();
  assert.equal(await page.getByTestId("signed-in-as").innerText(), "admin");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL("**/login");
  await page.goto(slipway.base + "/previews");
  await page.waitForURL("**/login?next=%2Fpreviews");
  assert.deepEqual(page.problems, []);
});

test("a reader sees a repository's runs, and the server refuses them a cancel", async () => {
  const added = await slipway
    .api("/api/projects", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "acme/shop", clone_url: "https://example.com/acme/shop.git" }),
    })
    .then((r) => r.json());
  const team = await slipway
    .api("/api/teams", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "shop readers" }) })
    .then((r) => r.json());
  slipway.cli(["users", "create", "reader", "--password-stdin"], "reader-password-42\n");
  const users = await slipway.api("/api/users").then((r) => r.json());
  const reader = users.items.find((u) => u.login === "reader");
  await slipway.api(`/api/teams/${team.id}/members/${reader.id}`, { method: "PUT" });
  await slipway.api(`/api/teams/${team.id}/repositories/${added.id}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ level: "read" }),
  });
  const run = await slipway
    .api(`/api/projects/${added.id}/pipelines`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ git_ref: "main" }) })
    .then((r) => r.json());

  const page = await newPage(browser);
  await signIn(page, slipway.base, "reader", "reader-password-42");
  await page.goto(`${slipway.base}/pipelines/${run.id}`);
  await page.locator('[data-hydrated="true"]').waitFor();
  await page.getByText("acme/shop").first().waitFor();
  assert.equal(await page.getByTestId("signed-in-as").innerText(), "reader");

  // The browser's own session, from the page's origin: refused for its level, not its origin.
  const answer = await page.evaluate(async (id) => {
    const response = await fetch(`/api/pipelines/${id}/cancel`, { method: "POST" });
    return { status: response.status, body: await response.json() };
  }, run.id);
  assert.equal(answer.status, 403, JSON.stringify(answer));
  assert.match(answer.body.error, /needs write access to acme\/shop/);
  assert.deepEqual(page.problems, []);
});
