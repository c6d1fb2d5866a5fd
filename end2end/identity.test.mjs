// Signing in, in a real browser: a visitor is sent to the sign-in page, which says where the
// first admin's password is; a wrong password is refused in words; the right one leads back to
// the page asked for; signing out ends the session. A reader sees a repository's run without
// Cancel or Retry (and the server refuses them anyway); a writer retries it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSlipway, launchBrowser, newPage, signIn, adminPage, openHydrated, screenshotDir } from "./harness.mjs";

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

test("a reader sees a run but no Cancel or Retry, and a writer retries it", async () => {
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
  const writers = await slipway
    .api("/api/teams", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "shop writers" }) })
    .then((r) => r.json());
  slipway.cli(["users", "create", "reader", "--password-stdin"], "reader-password-42\n");
  slipway.cli(["users", "create", "writer", "--password-stdin"], "writer-password-42\n");
  const users = await slipway.api("/api/users").then((r) => r.json());
  for (const [login, group, level] of [["reader", team, "read"], ["writer", writers, "write"]]) {
    const user = users.items.find((u) => u.login === login);
    await slipway.api(`/api/teams/${group.id}/members/${user.id}`, { method: "PUT" });
    await slipway.api(`/api/teams/${group.id}/repositories/${added.id}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ level }),
    });
  }
  const run = await slipway
    .api(`/api/projects/${added.id}/pipelines`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ git_ref: "main" }) })
    .then((r) => r.json());

  const page = await newPage(browser);
  await signIn(page, slipway.base, "reader", "reader-password-42");
  await page.goto(`${slipway.base}/pipelines/${run.id}`);
  await page.locator('[data-hydrated="true"]').waitFor();
  await page.getByText("acme/shop").first().waitFor();
  assert.equal(await page.getByTestId("signed-in-as").innerText(), "reader");
  assert.equal(await page.getByTestId("cancel").count() + await page.getByTestId("retry").count(), 0, "no buttons a reader cannot use");

  assert.deepEqual(page.problems, []);
  // The browser's own session, from the page's origin: refused for its level, not its origin.
  const answer = await page.evaluate(async (id) => {
    const response = await fetch(`/api/pipelines/${id}/cancel`, { method: "POST" });
    return { status: response.status, body: await response.json() };
  }, run.id);
  assert.equal(answer.status, 403, JSON.stringify(answer));
  assert.match(answer.body.error, /needs write access to acme\/shop/);
  // Chromium reports the refused request itself, and nothing else went wrong.
  assert.deepEqual(page.problems.filter((p) => !p.includes("status of 403")), []);

  // The run cannot clone (no network here), so it fails; the writer runs it again.
  const writer = await newPage(browser);
  await signIn(writer, slipway.base, "writer", "writer-password-42");
  await writer.goto(`${slipway.base}/pipelines/${run.id}`);
  await writer.locator('[data-hydrated="true"]').waitFor();
  await writer.getByTestId("retry").click({ timeout: 30_000 });
  await writer.getByTestId("retry-confirm").click();
  await writer.waitForURL((url) => url.pathname.startsWith("/pipelines/") && url.pathname !== `/pipelines/${run.id}`);
  assert.deepEqual(writer.problems, []);
});

test("a token made on the Settings page is shown once and works for the API", async () => {
  const page = await adminPage(browser, slipway);
  await openHydrated(page, slipway.base + "/settings");
  await page.getByTestId("token-name").fill("my agent");
  await page.getByTestId("token-create").click();
  const secret = await page.getByTestId("new-token-secret").inputValue();
  assert.match(secret, /^slw_[0-9a-f]{64}$/);
  await page.getByTestId("token-list").getByText("my agent").waitFor();
  const me = await fetch(slipway.base + "/api/me", { headers: { authorization: `Bearer ${secret}` } }).then((r) => r.json());
  assert.equal(me.via, "token");
  assert.equal(me.token.scope, "read");
  await page.reload();
  await page.locator('[data-hydrated="true"]').waitFor();
  assert.equal(await page.getByTestId("new-token").count(), 0, "the secret is not shown again");
  assert.deepEqual(page.problems, []);
});

test("an admin makes a team, adds a member, grants a repository, and the audit log shows each change", async () => {
  const added = await slipway
    .api("/api/projects", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "acme/billing", clone_url: "https://example.com/acme/billing.git" }),
    })
    .then((r) => r.json());
  slipway.cli(["users", "create", "grace", "--password-stdin"], "grace-password-42\n");
  const page = await adminPage(browser, slipway);
  await openHydrated(page, slipway.base + "/settings/members");
  await page.getByTestId("member-list").getByText("grace").waitFor();

  await page.getByTestId("team-name").fill("billing");
  await page.getByTestId("team-create").click();
  const team = page.getByTestId("team").filter({ has: page.getByRole("heading", { name: "billing", exact: true }) });
  await team.waitFor();
  await team.getByLabel("login to add").fill("grace");
  await team.getByRole("button", { name: "Add" }).click();
  await team.getByTestId("team-members").getByText("grace").waitFor();
  await team.getByLabel("repository to grant").selectOption(String(added.id));
  await team.getByLabel("level").selectOption("write");
  await team.getByRole("button", { name: "Grant" }).click();
  await team.getByTestId("team-grants").getByText("acme/billing").waitFor();
  await page.screenshot({ path: join(screenshotDir, "members.png"), fullPage: true });

  // What the page did is what the API and grace now see.
  const grace = await newPage(browser);
  await signIn(grace, slipway.base, "grace", "grace-password-42");
  const me = await grace.evaluate(() => fetch("/api/me").then((r) => r.json()));
  assert.deepEqual(me.repositories.map((r) => [r.name, r.level]), [["acme/billing", "write"]]);

  await openHydrated(page, slipway.base + "/audit?action=team.change");
  const rows = page.getByTestId("audit-rows");
  await rows.getByText("member grace added").waitFor();
  await rows.getByRole("row").filter({ hasText: "acme/billing" }).filter({ hasText: "granted write" }).waitFor();
  const exported = await page.evaluate(async (href) => (await fetch(href)).text(), await page.getByTestId("audit-export").getAttribute("href"));
  const lines = exported.trim().split("\n").map((line) => JSON.parse(line));
  assert.ok(lines.length >= 3 && lines.every((l) => l.action === "team.change"), exported);
  assert.deepEqual(page.problems, []);
  assert.deepEqual(grace.problems, []);
});
