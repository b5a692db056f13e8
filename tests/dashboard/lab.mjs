// Watches a lab provisioning in ironbell's dashboard, in headless Chromium (Debian's
// /usr/bin/chromium) with playwright-core. Run by crates/cli/tests/lab.rs inside the lab's
// network namespace while `ironbell lab up --dashboard ADDR` provisions real QEMU machines;
// it only looks (the played test, dashboard.mjs, covers the changes with a token):
//
//   - the machine list, never reloaded, shows each machine of MACHINES go through at least
//     one phase before SUCCESS as its workflow runs;
//   - the first machine's page, opened while it provisions and never reloaded, receives log
//     lines from the machine as they arrive, and its timeline has the workflow's Events;
//   - a change without the token is refused.
//
// stdout: "SAW <machine> <phase>" per change seen, then "PASS", or "FAIL <why>".
// Environment: DASHBOARD_URL, MACHINES (namespace/name, comma-separated), OUT_DIR
// (screenshots), CHROMIUM (optional), DEADLINE_MS (default 20 minutes).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const url = process.env.DASHBOARD_URL;
const machines = (process.env.MACHINES || '').split(',').filter(Boolean);
const out = process.env.OUT_DIR;
if (!url || !machines.length || !out) throw new Error('DASHBOARD_URL, MACHINES and OUT_DIR are needed');
mkdirSync(out, { recursive: true });
const deadline = Number(process.env.DEADLINE_MS || 20 * 60_000);

const check = (ok, what) => {
  if (!ok) throw new Error(`check failed: ${what}`);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
});
const problems = [];
const watch = (page) => {
  page.setDefaultTimeout(deadline);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().includes('status of 401')) problems.push(`console: ${m.text()}`);
  });
};
const list = await browser.newPage({ viewport: { width: 1280, height: 400 } });
const machine = await browser.newPage({ viewport: { width: 1280, height: 900 } });
watch(list);
watch(machine);

try {
  // The machine list: every phase change of every row, as the page receives it.
  await list.exposeFunction('sawPhase', (m, phase) => console.log(`SAW ${m} ${phase}`));
  await list.goto(url);
  await list.waitForSelector('#live.on');
  await list.evaluate(() => {
    window.notReloaded = true;
    window.phases = {};
    const report = () => {
      for (const row of document.querySelectorAll('tr[data-machine]')) {
        const phase = row.querySelector('td.phase')?.dataset.phase || '';
        const seen = (window.phases[row.dataset.machine] ||= []);
        if (seen[seen.length - 1] !== phase) {
          seen.push(phase);
          window.sawPhase(row.dataset.machine, phase);
        }
      }
    };
    new MutationObserver(report).observe(document.getElementById('machines'), {
      childList: true, subtree: true, attributes: true,
    });
    report();
  });

  // The first machine's page, open while it provisions.
  const [ns, name] = machines[0].split('/');
  await list.waitForSelector(`tr[data-machine="${machines[0]}"]`);
  await machine.goto(`${url}/machines/${ns}/${name}`);
  await machine.waitForSelector('#live.on');
  await machine.evaluate(() => { window.notReloaded = true; });
  const lines = () => machine.evaluate(() => document.getElementById('log').textContent.split('\n').filter(Boolean).length);
  const before = await lines();

  // Until every machine's workflow succeeded.
  await list.waitForFunction((want) => want.every((m) => {
    const phase = document.querySelector(`tr[data-machine="${m}"] td.phase`)?.dataset.phase;
    return phase === 'SUCCESS';
  }), machines, { timeout: deadline, polling: 1000 });
  const phases = await list.evaluate(() => window.phases);
  for (const m of machines) {
    const seen = (phases[m] || []).filter(Boolean);
    check(seen.length >= 2 && seen[seen.length - 1] === 'SUCCESS',
      `${m}'s phase changed live before SUCCESS (seen: ${seen.join(' → ')})`);
  }
  check(await list.evaluate(() => window.notReloaded === true), 'the list was not reloaded');
  await list.screenshot({ path: join(out, 'lab-machines.png'), fullPage: true });

  const after = await lines();
  check(after > before, `log lines arrived on ${machines[0]}'s page (${before} → ${after})`);
  check(await machine.evaluate(() => window.notReloaded === true), 'the machine page was not reloaded');
  const timeline = await machine.$$eval('#timeline tr[data-reason]', (rows) => rows.map((r) => r.dataset.reason));
  check(timeline.length >= 3, `the timeline has the workflow's Events: ${timeline.join(', ')}`);
  await machine.screenshot({ path: join(out, 'lab-machine.png'), fullPage: true });

  const anonymous = await machine.evaluate(async (path) => (await fetch(path, { method: 'POST' })).status,
    `/api/machines/${ns}/${name}/allow-pxe/off`);
  check(anonymous === 401 || anonymous === 403, `a change without the token is refused: ${anonymous}`);
  check(problems.length === 0, `no errors in the pages: ${problems.join('; ')}`);
  console.log(`PASS log lines ${before} → ${after}, timeline ${timeline.length} events`);
} catch (e) {
  await list.screenshot({ path: join(out, 'lab-failure.png'), fullPage: true }).catch(() => {});
  console.log(`FAIL ${e.stack || e}`);
  if (problems.length) console.log(`page problems: ${problems.join('; ')}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
