// A pipeline in a real browser: a repository in a local git remote is added, its pipeline is
// started from the Pipelines page, and the run's page shows the step's log appearing live (with
// its colours), the DAG of steps, and Retry behind a confirmation.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSlipway, launchBrowser, adminPage, openHydrated, screenshotDir } from "./harness.mjs";

let slipway;
let browser;
let repoDir;

// `wait-for-go` blocks until the test creates the file, so the log is watched while it grows.
const PLATFORM = `pipeline:
  steps:
    - name: build
      image: alpine
      commands:
        - echo "compiling step one"
        - while [ ! -f "$GO_FILE" ]; do sleep 0.1; done
        - printf '\\033[32mgreen build done\\033[0m\\n'
    - name: package
      image: alpine
      depends_on: [build]
      commands: [echo packaged]
`;

before(async () => {
  repoDir = mkdtempSync(join(tmpdir(), "slipway-e2e-repo-"));
  const go = join(repoDir, "go");
  const git = (...args) => execFileSync("git", args, { cwd: repoDir });
  git("init", "--quiet", "--initial-branch=main");
  writeFileSync(join(repoDir, ".platform.yaml"), PLATFORM.replace("$GO_FILE", go));
  git("add", "--all");
  git("-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "--quiet", "-m", "pipeline");
  slipway = await startSlipway();
  browser = await launchBrowser();
  const added = await slipway.api(`/api/projects`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "demo", clone_url: repoDir }),
  });
  assert.equal(added.status, 201);
});

after(async () => {
  await browser?.close();
  await slipway?.stop();
  if (repoDir) rmSync(repoDir, { recursive: true, force: true });
});

test("a pipeline started from the page streams its log live", async () => {
  const page = await adminPage(browser, slipway);
  await openHydrated(page, `${slipway.base}/pipelines`);
  await page.getByText("No pipeline has run in your 1 repository yet").waitFor();
  const form = page.getByTestId("run-pipeline");
  await form.getByRole("button", { name: "Run pipeline" }).click();
  await page.getByTestId("run-started").getByRole("link", { name: "#1" }).click();
  await page.waitForURL("**/pipelines/1");

  const log = page.getByTestId("log-lines");
  await log.getByText("compiling step one", { exact: true }).waitFor({ timeout: 20_000 });
  const build = page.locator('[data-testid="step-node"][data-step="build"]');
  await page.waitForFunction(() =>
    document.querySelector('[data-testid="step-node"][data-step="build"]')?.dataset.status === "running");
  assert.equal(await log.getByText("green build done", { exact: true }).count(), 0, "the step has not got there yet");
  await page.screenshot({ path: join(screenshotDir, "pipeline-running.png"), fullPage: true });

  writeFileSync(join(repoDir, "go"), "");
  const green = log.getByText("green build done", { exact: true });
  await green.waitFor({ timeout: 20_000 });
  assert.match(await green.getAttribute("class"), /text-emerald-400/, "ANSI green is shown green");
  await page.getByTestId("log-outcome").getByText("Step succeeded").waitFor({ timeout: 20_000 });
  await page.locator('[data-testid="pipeline-detail"] [data-status="succeeded"]').waitFor({ timeout: 20_000 });
  assert.equal(await build.getAttribute("data-status"), "succeeded");
  assert.equal(await page.locator('[data-testid="step-node"][data-step="package"]').getAttribute("data-status"), "succeeded");

  // Search narrows the log; timestamps can be shown.
  const before = await log.locator("div[data-seq]").count();
  await page.getByTestId("log-search").fill("green");
  await page.getByText("2 matching").waitFor(); // the echoed command and its output
  const shown = await log.locator("div[data-seq]").allInnerTexts();
  assert.ok(shown.length === 2 && shown.every((line) => line.includes("green")), shown.join("\n"));
  assert.ok(before > shown.length, "the search hid the other lines");
  await page.getByTestId("log-timestamps").check();
  await log.locator("span.select-none").first().waitFor();
  await page.screenshot({ path: join(screenshotDir, "pipeline-finished.png"), fullPage: true });

  // Retry asks first, then opens the new run.
  await page.getByTestId("retry").click();
  await page.getByTestId("retry-confirm").click();
  await page.waitForURL("**/pipelines/2");
  await page.getByTestId("pipeline-detail").getByRole("link", { name: "#1" }).waitFor();
  assert.deepEqual(page.problems, []);
});

test("a secret set on the Settings page is listed by name, never by value", async () => {
  const page = await adminPage(browser, slipway);
  await openHydrated(page, `${slipway.base}/settings`);
  const secrets = page.getByTestId("secrets");
  await secrets.locator("summary").click();
  await secrets.getByTestId("secret-name").fill("DEPLOY_TOKEN");
  await secrets.getByTestId("secret-value").fill("e2e-very-secret-value");
  await secrets.getByRole("button", { name: "Set secret" }).click();
  await secrets.getByTestId("secret-list").getByText("DEPLOY_TOKEN").waitFor();
  assert.equal(await page.content().then((html) => html.includes("e2e-very-secret-value")), false);
  const listed = await slipway.api(`/api/projects/1/secrets`).then((r) => r.json());
  assert.deepEqual(listed.items.map((s) => s.name), ["DEPLOY_TOKEN"]);
  await page.screenshot({ path: join(screenshotDir, "settings-secrets.png"), fullPage: true });
  assert.deepEqual(page.problems, []);
});
