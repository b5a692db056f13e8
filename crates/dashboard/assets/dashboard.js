// ironbell dashboard: follows the page's stream of Server-Sent Events (parts of the page
// rendered again by the plane after each change, and new machine log lines), and sends
// changes with the token typed into the page. No polling: the plane pushes.
(() => {
  'use strict';
  const TOKEN_KEY = 'ironbell-dashboard-token';
  const MAX_LOG_NODES = 5000;
  const live = document.getElementById('live');
  const flash = document.getElementById('flash');
  const say = (message, bad) => {
    flash.textContent = message;
    flash.className = bad ? 'bad' : 'ok';
  };

  // The token lives in this tab's session storage and is sent only as a header.
  const tokenForm = document.getElementById('token');
  const showToken = () => {
    tokenForm.token.placeholder = sessionStorage.getItem(TOKEN_KEY)
      ? 'token set' : 'token for changes';
  };
  tokenForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = tokenForm.token.value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    tokenForm.token.value = '';
    showToken();
  });
  showToken();

  // Changes: every form marked data-write, including those in rows swapped in later.
  document.addEventListener('submit', async (e) => {
    const form = e.target;
    if (!form.hasAttribute('data-write')) return;
    e.preventDefault();
    const headers = {};
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    try {
      const answer = await fetch(form.action, { method: 'POST', headers });
      say(`${answer.status}: ${(await answer.text()).trim()}`, !answer.ok);
    } catch (err) {
      say(String(err), true);
    }
  });

  const url = document.body.dataset.stream;
  if (!url) return;
  const source = new EventSource(url);
  source.onopen = () => { live.textContent = 'live'; live.className = 'on'; };
  source.onerror = () => { live.textContent = 'reconnecting'; live.className = ''; };
  // "swap": the first line names an element, the rest is its new content (escaped HTML
  // rendered by the plane).
  source.addEventListener('swap', (e) => {
    const cut = e.data.indexOf('\n');
    const target = document.getElementById(e.data.slice(0, cut));
    if (target) target.innerHTML = e.data.slice(cut + 1);
  });
  // "log": one machine log line, added as text.
  source.addEventListener('log', (e) => {
    const log = document.getElementById('log');
    if (!log) return;
    const follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(`${e.data}\n`);
    while (log.childNodes.length > MAX_LOG_NODES) log.firstChild.remove();
    if (follow) log.scrollTop = log.scrollHeight;
  });
})();
