// A pipeline in a real browser: a repository in a local git remote is added, its pipeline is
// started from the Pipelines page, and the run's page shows the step's log appearing live (with
// its colours), the DAG of steps, and Retry behind a confirmation; a notification subscription
// made on Settings gets the run's ending, and Redeliver there sends it again; a step printing a
// 10 MB line and binary output leaves a bounded log and a usable page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
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

/** A receiver on loopback that keeps every delivery (headers and body). */
async function startReceiver() {
  const received = [];
  const waiting = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body });
      response.end("ok");
      for (const wake of waiting.splice(0)) wake();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  // Waits until a delivery satisfies `wanted`; returns it.
  const until = async (wanted, what) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = received.find(wanted);
      if (found) return found;
      const left = deadline - Date.now();
      assert.ok(left > 0, `the receiver never got ${what}`);
      await new Promise((resolve) => {
        waiting.push(resolve);
        setTimeout(resolve, left);
      });
    }
  };
  return { url: `http://127.0.0.1:${server.address().port}/hook`, until, close: () => server.close() };
}

test("a notification subscription made on Settings gets the run's ending and can be redelivered", async () => {
  const receiver = await startReceiver();
  try {
    // The first test's retry ends before there is a subscription to tell.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const retried = await slipway.api(`/api/pipelines/2`).then((r) => r.json());
      if (["succeeded", "failed", "cancelled"].includes(retried.status)) break;
      assert.ok(Date.now() < deadline, `run 2 is still ${retried.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const page = await adminPage(browser, slipway);
    await openHydrated(page, `${slipway.base}/settings`);
    const notifications = page.getByTestId("notifications");
    await notifications.locator("summary").first().click();
    await notifications.getByTestId("subscription-url").fill(receiver.url);
    await notifications.getByTestId("subscription-secret").fill("e2e-receiver-secret-0123");
    await notifications.getByTestId("event-pipeline.succeeded").check();
    await notifications.getByRole("button", { name: "Add subscription" }).click();
    await notifications.getByTestId("subscription-list").getByText(receiver.url).waitFor();
    assert.equal(await page.content().then((html) => html.includes("e2e-receiver-secret-0123")), false);

    writeFileSync(join(repoDir, "go"), "");
    const started = await slipway.api(`/api/projects/1/pipelines`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ git_ref: "main" }),
    });
    assert.equal(started.status, 201);
    const run = (await started.json()).id;
    const first = await receiver.until((d) => JSON.parse(d.body).pipeline?.id === run, "the run's ending");
    assert.equal(first.headers["x-slipway-event"], "pipeline.succeeded");
    assert.match(first.headers["x-slipway-signature-256"], /^sha256=[0-9a-f]{64}$/);

    await openHydrated(page, `${slipway.base}/settings`);
    await notifications.locator("summary").first().click();
    const recent = notifications.getByTestId("recent-deliveries");
    await recent.locator("summary").click();
    const row = recent.getByTestId("notification-delivery").first();
    await row.getByText("delivered (200)").waitFor();
    await page.screenshot({ path: join(screenshotDir, "settings-notifications.png"), fullPage: true });
    await row.getByRole("button", { name: "Redeliver" }).click();
    const again = await receiver.until(
      (d) => d.body === first.body && d.headers["x-slipway-delivery"] !== first.headers["x-slipway-delivery"],
      "the redelivery of the same body",
    );
    assert.equal(again.headers["x-slipway-signature-256"], first.headers["x-slipway-signature-256"]);
    await recent.getByTestId("notification-delivery").nth(1).waitFor();
    assert.deepEqual(page.problems, []);
  } finally {
    receiver.close();
  }
});

// A step printing a 10 MB line and raw binary: the log keeps 16 KiB of the line and says it cut
// it, the bytes that are not text show as replacement characters, and the page stays usable.
const HOSTILE = `pipeline:
  steps:
    - name: noisy
      image: alpine
      commands:
        - head -c 10485760 /dev/zero | tr '\\0' x; echo
        - head -c 4096 /dev/urandom; echo
        - echo "after the noise"
`;

test("a 10 MB line and binary output are shown cut, and the page stays usable", async () => {
  const dir = mkdtempSync(join(tmpdir(), "slipway-e2e-noisy-"));
  try {
    const git = (...args) => execFileSync("git", args, { cwd: dir });
    git("init", "--quiet", "--initial-branch=main");
    writeFileSync(join(dir, ".platform.yaml"), HOSTILE);
    git("add", "--all");
    git("-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "--quiet", "-m", "noise");
    const added = await slipway.api(`/api/projects`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "noisy", clone_url: dir }),
    });
    assert.equal(added.status, 201);
    const project = (await added.json()).id;
    const started = await slipway.api(`/api/projects/${project}/pipelines`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ git_ref: "main" }),
    });
    assert.equal(started.status, 201);
    const run = (await started.json()).id;

    const page = await adminPage(browser, slipway);
    await openHydrated(page, `${slipway.base}/pipelines/${run}`);
    const log = page.getByTestId("log-lines");
    await log.getByText("after the noise", { exact: true }).waitFor({ timeout: 30_000 });
    await page.getByTestId("log-outcome").getByText("Step succeeded").waitFor({ timeout: 30_000 });
    const cut = log.locator("div[data-seq]", { hasText: "(line cut at 16 KiB)" });
    assert.equal(await cut.count(), 1, "the long line is shown once, cut, saying so");
    const longest = Math.max(...(await log.locator("div[data-seq]").allInnerTexts()).map((t) => t.length));
    assert.ok(longest < 20_000, `no line on the page is longer than the cut (longest: ${longest})`);
    // The page still answers: searching the log narrows it.
    await page.getByTestId("log-search").fill("after the noise");
    await page.getByText("2 matching").waitFor(); // the echoed command and its output
    const stored = await slipway.api(`/api/pipelines/${run}/steps/noisy/logs`).then((r) => r.text());
    assert.ok(stored.length < 1_000_000, `the stored log is bounded (${stored.length} bytes)`);
    assert.match(stored, /after the noise/);
    await page.screenshot({ path: join(screenshotDir, "pipeline-noisy-log.png"), fullPage: true });
    assert.deepEqual(page.problems, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
