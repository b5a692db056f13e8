// Drives ironbell's dashboard in headless Chromium (Debian's /usr/bin/chromium) with
// playwright-core. Run by crates/cli/tests/dashboard.rs, which starts the plane, plays the
// agents and sends syslog lines when this script says it is ready:
//
//   stdout "READY <step>"         the page is open and following its stream
//   stdout "SAW <machine> <phase>" the machine list showed that phase (no reload)
//   stdout "PASS"                 every check held
//
// Environment: DASHBOARD_URL, DASHBOARD_TOKEN, OUT_DIR (screenshots), CHROMIUM (optional).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const url = process.env.DASHBOARD_URL;
const token = process.env.DASHBOARD_TOKEN;
const out = process.env.OUT_DIR;
if (!url || !token || !out) throw new Error('DASHBOARD_URL, DASHBOARD_TOKEN and OUT_DIR are needed');
mkdirSync(out, { recursive: true });
const STEP = 60_000;

const check = (ok, what) => {
  if (!ok) throw new Error(`check failed: ${what}`);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 300 } });
page.setDefaultTimeout(STEP);
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
// The refused changes below log "Failed to load resource: ... 401" by design; anything
// else the page logs as an error is a problem.
page.on('console', (m) => {
  if (m.type() === 'error' && !m.text().includes('status of 401')) problems.push(`console: ${m.text()}`);
});

try {
  // 1. The machine list: each machine's phase changes live while its workflow runs.
  await page.exposeFunction('sawPhase', (machine, phase) => console.log(`SAW ${machine} ${phase}`));
  await page.goto(url);
  await page.waitForSelector('#live.on');
  await page.evaluate(() => {
    window.notReloaded = true; // gone if the page were loaded again
    const seen = new Map();
    const report = () => {
      for (const row of document.querySelectorAll('tr[data-machine]')) {
        const phase = row.querySelector('td.phase')?.dataset.phase;
        const machine = row.dataset.machine;
        if (phase && seen.get(machine) !== phase) {
          seen.set(machine, phase);
          window.sawPhase(machine, phase);
        }
      }
    };
    new MutationObserver(report).observe(document.getElementById('machines'), {
      childList: true, subtree: true,
    });
    report();
  });
  console.log('READY machines');
  await page.waitForFunction(() => {
    const phase = (m) => document.querySelector(`tr[data-machine="${m}"] td.phase`)?.dataset.phase;
    return phase('default/node1') === 'SUCCESS' && phase('default/node2') === 'FAILED';
  });
  check(await page.evaluate(() => window.notReloaded === true), 'the list was not reloaded');
  const action = await page.textContent('tr[data-machine="default/node2"] td.last-event');
  check(action.includes('ActionFailed'), `node2's last event is ActionFailed: ${action}`);
  // The agent's message carried markup: it shows as text, no element was made of it.
  check(action.includes('<img src=x onerror=alert(1)>'), `markup shown as text: ${action}`);
  check(await page.$('td.last-event img') === null, 'no element from a message');
  await page.screenshot({ path: join(out, 'machines.png'), fullPage: true });

  // The Workflow list says why node2's Workflow stopped; no cluster yet.
  await page.goto(`${url}/workflows`);
  await page.waitForSelector('#live.on');
  const failed = await page.textContent('tr[data-workflow="default/wf-node2"]');
  check(failed.includes('FAILED') && failed.includes('<img src=x onerror=alert(1)>'), `wf-node2: ${failed}`);
  await page.goto(`${url}/clusters`);
  check((await page.textContent('#clusters')).includes('No clusters'), 'the cluster list');

  // 2. A machine's page: its timeline and log lines as they arrive.
  await page.goto(`${url}/machines/default/node1`);
  await page.waitForSelector('#live.on');
  check((await page.textContent('#timeline')).includes('ActionSucceeded'), 'the timeline so far');
  await page.evaluate(() => { window.notReloaded = true; });
  console.log('READY machine');
  await page.waitForFunction(() => {
    const log = document.getElementById('log').textContent;
    return [1, 2, 3].every((n) => log.includes(`installing step ${n}/3`));
  });
  await page.waitForSelector('#timeline tr[data-reason="ActionFailed"]');
  await page.waitForSelector('#summary dd.phase[data-phase="FAILED"]');
  check((await page.textContent('#summary .reason')).includes('disk /dev/vda not found'),
    'the summary says why it stopped');
  check(await page.evaluate(() => window.notReloaded === true), 'the machine page was not reloaded');
  const log = await page.textContent('#log');
  check(log.indexOf('installing step 1/3') < log.indexOf('installing step 3/3'), 'log lines in order');
  await page.screenshot({ path: join(out, 'machine.png'), fullPage: true });

  // 3. Changes: refused without the token, done with it.
  const anonymous = await page.evaluate(async () => {
    const r = await fetch('/api/machines/default/node1/allow-pxe/off', { method: 'POST' });
    return [r.status, r.headers.get('www-authenticate')];
  });
  check(anonymous[0] === 401 && anonymous[1]?.startsWith('Bearer'), `unauthenticated: ${anonymous}`);
  const wrong = await page.evaluate(async () => (await fetch('/api/machines/default/node1/power-cycle', {
    method: 'POST', headers: { Authorization: 'Bearer not-the-token' },
  })).status);
  check(wrong === 401, `a wrong token: ${wrong}`);
  await page.click('#summary button.cycle');
  await page.waitForSelector('#flash.bad');
  check((await page.textContent('#flash')).startsWith('401'), 'the page shows the refusal');
  await page.fill('#token input', token);
  await page.click('#token button');
  await page.click('#summary button.cycle');
  await page.waitForFunction(() => document.getElementById('flash').textContent.startsWith('201'));
  await page.click('#summary button.pxe');
  await page.waitForFunction(() => document.getElementById('flash').textContent.startsWith('200'));
  await page.waitForSelector('#summary dd.pxe:text("false")');
  await page.goto(`${url}/jobs`);
  await page.waitForSelector('#live.on');
  await page.waitForSelector('tr[data-job^="default/node1-power-cycle-"]');
  await page.screenshot({ path: join(out, 'jobs.png'), fullPage: true });
  await page.goto(url);
  await page.waitForSelector('#live.on');
  await page.waitForSelector('tr[data-machine="default/node1"] td.pxe:text("no")');
  await page.screenshot({ path: join(out, 'machines-after.png'), fullPage: true });
  check(problems.length === 0, `no errors in the page: ${problems.join('; ')}`);
  console.log('PASS');
} catch (e) {
  await page.screenshot({ path: join(out, 'failure.png'), fullPage: true }).catch(() => {});
  console.log(`FAIL ${e.stack || e}`);
  if (problems.length) console.log(`page problems: ${problems.join('; ')}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
