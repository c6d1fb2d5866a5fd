// A preview in a real browser, on the embedded simulated cluster: a signed pull request
// delivery creates it; the Previews list shows it live and links to its page, where Retry
// redeploys it and Delete — after a confirmation naming the namespace — removes it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSlipway, launchBrowser, adminPage, openHydrated, screenshotDir, deliver } from "./harness.mjs";

let slipway;
let browser;
let repoDir;
let sha;

const PLATFORM = `preview:
  app:
    image: registry.example.com/shop:1
    port: 8080
`;

before(async () => {
  repoDir = mkdtempSync(join(tmpdir(), "slipway-e2e-preview-"));
  const git = (...args) => execFileSync("git", args, { cwd: repoDir }).toString().trim();
  git("init", "--quiet", "--initial-branch=main");
  writeFileSync(join(repoDir, ".platform.yaml"), PLATFORM);
  git("add", "--all");
  git("-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "--quiet", "-m", "preview");
  sha = git("rev-parse", "HEAD");
  slipway = await startSlipway({ SLIPWAY_CLUSTER: "sim" });
  browser = await launchBrowser();
  const added = await slipway.api(`/api/projects`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "acme/shop", clone_url: repoDir }),
  });
  assert.equal(added.status, 201);
});

after(async () => {
  await browser?.close();
  await slipway?.stop();
  if (repoDir) rmSync(repoDir, { recursive: true, force: true });
});

function pullRequest(action) {
  return {
    action,
    number: 12,
    pull_request: {
      number: 12, title: "Faster checkout", state: action === "closed" ? "closed" : "open",
      draft: false, merged: false, labels: [], updated_at: "2026-11-25T12:00:00Z",
      user: { login: "octocat" },
      head: { ref: "faster", sha, repo: { full_name: "acme/shop", fork: false } },
      base: { ref: "main", repo: { full_name: "acme/shop" } },
    },
    repository: {
      full_name: "acme/shop", clone_url: repoDir, default_branch: "main",
      owner: { login: "acme" }, name: "shop",
    },
  };
}

test("a pull request's preview: list, detail, retry, delete with confirmation", async () => {
  const page = await adminPage(browser, slipway);
  await openHydrated(page, `${slipway.base}/previews`);
  await page.getByText("No open pull requests have a preview").waitFor();
  await page.evaluate(() => { window.__sameDocument = true; });

  assert.equal(await deliver(slipway.base, "pull_request", "e2e-preview-1", pullRequest("opened")), 202);
  const row = page.locator('[data-testid="preview-row"][data-namespace="pr-acme-shop-12"]');
  await row.waitFor();
  await row.locator('[data-status="running"]').waitFor({ timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "the list updated without a reload");
  assert.equal(await row.getByTestId("preview-url").innerText(), "pr-acme-shop-12.preview.localhost");
  await page.screenshot({ path: join(screenshotDir, "previews-list.png"), fullPage: true });

  await row.getByRole("link", { name: "pr-acme-shop-12", exact: true }).click();
  await page.getByTestId("preview-namespace").getByText("pr-acme-shop-12").waitFor();
  await page.getByTestId("preview-url").getByText("https://pr-acme-shop-12.preview.localhost").waitFor();
  assert.equal(await page.locator('[data-testid="attempt"]').count(), 1);
  await page.getByTestId("pod-logs").waitFor();

  // Redeploy: a second attempt appears, and succeeds.
  await page.getByTestId("retry").click();
  await page.getByTestId("retry-confirm").click();
  await page.locator('[data-testid="attempt"]').nth(1).waitFor();
  await page.locator('[data-testid="attempt"][data-status="succeeded"]').nth(1).waitFor({ timeout: 30_000 });

  // Operators see what it uses, against its quota.
  const detailUrl = page.url();
  await openHydrated(page, `${slipway.base}/operator`);
  const usage = page.locator('[data-testid="usage-row"][data-namespace="pr-acme-shop-12"]');
  await usage.waitFor();
  assert.match(await usage.innerText(), /2 cores/);
  await page.getByTestId("usage-totals").nth(1).getByText("acme/shop").waitFor();
  await page.screenshot({ path: join(screenshotDir, "operator-usage.png"), fullPage: true });
  await openHydrated(page, detailUrl);

  // Delete asks first, naming the namespace.
  await page.getByTestId("delete").click();
  await page.getByText("Delete namespace pr-acme-shop-12 and everything in it?").waitFor();
  await page.screenshot({ path: join(screenshotDir, "preview-delete-confirm.png"), fullPage: true });
  await page.getByTestId("delete-confirm").click();
  await page.locator('[data-testid="preview-detail"] [data-status="deleted"]').waitFor({ timeout: 30_000 });
  await page.getByText("deleted from the dashboard").waitFor();
  assert.deepEqual(page.problems, []);
});
