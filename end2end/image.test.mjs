// The image's contents, run as the image runs them (end2end/image-root.sh reads
// deploy/Containerfile): the release binary and site where the image COPYs them, a read-only
// root but /data and /tmp, the image's ENV and non-root USER. Slipway starts, answers
// /healthz, /readyz and its wasm, keeps its data in /data, and `slipway healthcheck` (the
// image's HEALTHCHECK) says 0 while it serves and 1 once it has stopped.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, statSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, extname } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, untilServing } from "./harness.mjs";

const script = join(dirname(fileURLToPath(import.meta.url)), "image-root.sh");
const asRoot = (args) => (process.getuid() === 0 ? ["bash", [script, ...args]] : ["sudo", ["bash", script, ...args]]);

let root;
let port;

/** Runs `slipway ARGS` in the image's root; its exit code and output. */
function inImage(args) {
  const [command, argv] = asRoot(["run", root, `SLIPWAY_LISTEN=127.0.0.1:${port}`, "--", ...args]);
  return spawnSync(command, argv, { encoding: "utf8", timeout: 30_000 });
}

/** Where the image's ENV says the site is (SLIPWAY_SITE_ROOT). */
function siteRoot() {
  const containerfile = readFileSync(join(dirname(script), "..", "deploy", "Containerfile"), "utf8");
  const root = containerfile.match(/SLIPWAY_SITE_ROOT=(\S+)/)?.[1];
  assert.ok(root, "the Containerfile sets SLIPWAY_SITE_ROOT");
  return root;
}

/** Every path under `dir`, for comparing what changed. */
function tree(dir, prefix = "") {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = join(prefix, entry.name);
    return entry.isDirectory() ? [path, ...tree(dir, path)] : [path];
  });
}

before(async () => {
  const bin = process.env.SLIPWAY_BIN;
  const site = process.env.SLIPWAY_SITE_ROOT;
  if (!bin || !site) throw new Error("SLIPWAY_BIN and SLIPWAY_SITE_ROOT must be set (scripts/test sets them)");
  root = mkdtempSync(join(tmpdir(), "slipway-image-"));
  port = await freePort();
  const [command, argv] = asRoot(["prepare", root, bin, site]);
  const prepared = spawnSync(command, argv, { encoding: "utf8" });
  assert.equal(prepared.status, 0, prepared.stderr);
});

after(() => {
  if (root) spawnSync(...asRoot(["cleanup", root]));
});

test("the image's files serve as its non-root user, writing only to /data", async () => {
  const rootfs = join(root, "rootfs");
  const before = tree(rootfs);
  const [command, argv] = asRoot(["run", root, `SLIPWAY_LISTEN=127.0.0.1:${port}`, "--", "serve"]);
  const server = spawn(command, argv, { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise((resolve) => server.once("exit", resolve));
  const log = await untilServing(server);
  const base = `http://127.0.0.1:${port}`;
  try {
    assert.ok(log.text.includes('"level":"INFO"'), "JSON logs, as the image's ENV asks");
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200, await ready.clone().text());
    assert.equal((await ready.json()).ready, true);
    const page = await (await fetch(`${base}/login`)).text();
    const stylesheet = page.match(/\/pkg\/[\w.-]+\.css/)?.[0];
    assert.ok(stylesheet, "the sign-in page links its stylesheet");
    assert.equal((await fetch(base + stylesheet)).status, 200, stylesheet);
    // Every compiled asset the image holds is served as it is there.
    const pkg = join(rootfs, siteRoot(), "pkg");
    const types = { ".wasm": "application/wasm", ".js": "text/javascript", ".css": "text/css" };
    const served = [];
    for (const name of readdirSync(pkg)) {
      const type = types[extname(name)];
      if (!type) continue;
      const asset = await fetch(`${base}/pkg/${name}`);
      assert.equal(asset.status, 200, name);
      assert.ok(asset.headers.get("content-type").startsWith(type), `${name}: ${asset.headers.get("content-type")}`);
      assert.ok(Buffer.from(await asset.arrayBuffer()).equals(readFileSync(join(pkg, name))), `${name} as the image holds it`);
      served.push(name);
    }
    assert.ok(served.some((name) => name.endsWith(".wasm")), `the dashboard's wasm is among ${served}`);

    const healthy = inImage(["healthcheck"]);
    assert.equal(healthy.status, 0, `healthcheck while serving: ${healthy.stdout}${healthy.stderr}`);

    const password = statSync(join(root, "data", "initial-admin-password"));
    assert.equal(password.uid, 10001, "written by the image's user");
    assert.equal(password.mode & 0o777, 0o600);
    assert.ok(readdirSync(join(root, "data")).some((name) => name.endsWith(".db")), "the database is in /data");
    assert.deepEqual(tree(rootfs), before, "nothing written outside /data and /tmp");
  } finally {
    server.kill("SIGTERM");
    await exited;
  }
  const down = inImage(["healthcheck"]);
  assert.equal(down.status, 1, `healthcheck once stopped: ${down.stdout}${down.stderr}`);
});
