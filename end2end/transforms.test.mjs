// A transform run in a real browser: a spec on the Transforms page (pasted, its problems shown
// with line and column; then read from a file), the run started over two repositories, and the run's page
// showing the totals, one repository ready to publish with `+1 −1`, the other unchanged, and the
// opened row's diff file by file with its lines coloured, and its log; and a running
// execution's log shown as its steps print.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSlipway, launchBrowser, adminPage, openHydrated, screenshotDir } from "./harness.mjs";

let slipway;
let browser;
let root;

function repository(name, files) {
  const dir = join(root, name);
  execFileSync("mkdir", ["-p", dir]);
  const git = (...args) => execFileSync("git", args, { cwd: dir });
  git("init", "--quiet", "--initial-branch=main");
  for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
  git("add", "--all");
  git("-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "--quiet", "-m", "first");
  return dir;
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "slipway-e2e-transforms-"));
  const api = repository("api", { "Cargo.toml": 'serde = "1.0.1"\n' });
  const web = repository("web", { "README.md": "# web\n" });
  slipway = await startSlipway();
  browser = await launchBrowser();
  for (const [name, dir] of [["acme/api", api], ["acme/web", web]]) {
    const added = await slipway.api(`/api/projects`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name, clone_url: dir }),
    });
    assert.equal(added.status, 201);
  }
});

after(async () => {
  await browser?.close();
  await slipway?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

const SPEC = `name: bump-serde
repositories: ["acme/*"]
steps:
  - name: bump
    image: alpine
    commands:
      - 'if [ -f Cargo.toml ]; then sed -i s/1.0.1/1.0.2/ Cargo.toml; fi'
      - echo bumped
`;

test("a run started from the page shows each repository's outcome and the diff", async () => {
  const page = await adminPage(browser, slipway);
  await openHydrated(page, `${slipway.base}/transforms`);
  await page.getByText("No transform run yet").waitFor();
  const form = page.getByTestId("start-transform");

  // A spec with a problem: the validator's words, with line and column.
  await form.locator("textarea").fill("name: x\nrepositories: [acme/api]\nsteps:\n  - name: a\n    commands: [true]\n");
  await form.getByRole("button", { name: "Start run" }).click();
  await page.getByTestId("transform-problems").getByText("4:11: step `a`: image is required").waitFor();

  // The spec read from a file lands in the form, to be read before it starts.
  await form.getByTestId("spec-file").setInputFiles({ name: "bump.yaml", mimeType: "application/yaml", buffer: Buffer.from(SPEC) });
  const deadline = Date.now() + 10_000;
  while ((await form.locator("textarea").inputValue()) !== SPEC) {
    if (Date.now() > deadline) assert.fail("the file's text did not reach the form");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await form.getByRole("button", { name: "Start run" }).click();
  await page.getByTestId("transform-started").getByRole("link", { name: "#1 bump-serde" }).click();
  await page.waitForURL("**/transforms/1");
  await page.locator('[data-testid="transform-detail"] [data-status="completed"]').waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId("total-succeeded").locator("dd").innerText(), "1");
  assert.equal(await page.getByTestId("total-no-changes").locator("dd").innerText(), "1");

  const api = page.locator('[data-testid="execution-row"][data-repository="acme/api"]');
  const web = page.locator('[data-testid="execution-row"][data-repository="acme/web"]');
  await api.getByTestId("ready-to-publish").waitFor();
  assert.match(await api.innerText(), /\+1\s*−1 in 1 file/);
  assert.equal(await web.getByTestId("ready-to-publish").count(), 0);
  assert.equal(await web.locator('[data-status="no_changes"]').count(), 1);
  const patch = await slipway.api(await api.getByTestId("download-patch").getAttribute("href")).then((r) => r.text());
  assert.match(patch, /^\+serde = "1\.0\.2"$/m);

  // Opened: the diff file by file, coloured, and the log.
  await api.getByRole("link", { name: "acme/api" }).click();
  await page.waitForURL("**/transforms/1?execution=*");
  const file = page.locator('[data-testid="diff-file"][data-path="Cargo.toml"]');
  await file.waitFor();
  const added = file.locator('[data-kind="added"]');
  assert.equal(await added.innerText(), '+serde = "1.0.2"');
  assert.match(await added.getAttribute("class"), /bg-emerald-50/);
  assert.equal(await file.locator('[data-kind="removed"]').innerText(), '-serde = "1.0.1"');
  await page.getByTestId("execution-log").getByText("bumped", { exact: false }).first().waitFor();
  await page.screenshot({ path: join(screenshotDir, "transform-run.png"), fullPage: true });

  // The list shows the run with its progress.
  await openHydrated(page, `${slipway.base}/transforms`);
  const row = page.getByTestId("transform-row");
  await row.getByText("2 of 2 done · 1 with changes · 1 no changes · 0 failed").waitFor();
  // The one problem is the invalid spec's answer, 400, as the browser reports any 4xx.
  assert.deepEqual(page.problems, ["console: Failed to load resource: the server responded with a status of 400 (Bad Request)"]);
});

test("a running execution's log is shown live as its steps print", async () => {
  // Queued while the queue is paused, so the page is open before the execution starts.
  assert.equal((await slipway.api(`/api/transform-queue/pause`, { method: "POST" })).status, 200);
  const started = await slipway.api(`/api/runs`, {
    method: "POST",
    headers: { "content-type": "application/yaml" },
    body: "name: slow\nrepositories: [acme/web]\nsteps:\n  - name: talk\n    image: alpine\n    commands: ['echo first-line', 'sleep 4', 'echo second-line']\n",
  });
  assert.equal(started.status, 201);
  const run = (await started.json()).id;
  const execution = (await (await slipway.api(`/api/runs/${run}/executions`)).json()).items[0].id;
  const page = await adminPage(browser, slipway);
  await openHydrated(page, `${slipway.base}/transforms/${run}?execution=${execution}`);
  await page.getByTestId("execution-log").getByText("No log yet", { exact: false }).waitFor();

  // Resumed: the page turns to the live log by itself, and shows the step's first line while
  // it still sleeps.
  assert.equal((await slipway.api(`/api/transform-queue/resume`, { method: "POST" })).status, 200);
  const live = page.getByTestId("execution-live-log");
  await live.getByText("first-line", { exact: false }).waitFor({ timeout: 20_000 });
  assert.doesNotMatch(await live.innerText(), /second-line/, "the step is still sleeping");
  // Once it ended, the page shows the stored log, the rest of it included.
  await page.getByTestId("execution-log").getByText("second-line", { exact: false }).waitFor({ timeout: 20_000 });
  assert.deepEqual(page.problems, []);
});
