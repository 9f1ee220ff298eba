// The console's entry point: sign in and out, and hash-based navigation (#/tenants, #/tenants/{id}, #/routes,
// #/batches, #/cluster) so every view can be linked. Each view's mount(view, …) returns its stop function, called
// when the admin navigates away (it ends the view's live feed or polling).
import { api, ApiError, session, showError, whenUnauthorized } from './core.js';
import { onLiveStatus, stopLive } from './live.js';
import { mount as mountTenants } from './tenants.js';
import { mount as mountTenant } from './tenant.js';
import { mountBatches, mountCluster, mountRoutes } from './ops.js';

const $ = (id) => document.getElementById(id);
let stopView = () => {};

/** A path segment of a link, decoded; a malformed escape (a hand-edited link) is kept as typed, so the API answers 404. */
function segment(text) {
  try { return decodeURIComponent(text); } catch { return text; }
}

const ROUTES = [
  [/^#\/tenants\/([^/]+)$/, (view, m) => mountTenant(view, segment(m[1])), 'Tenant', '#/tenants'],
  [/^#\/routes$/, mountRoutes, 'Routes', '#/routes'],
  [/^#\/batches$/, mountBatches, 'Batches', '#/batches'],
  [/^#\/cluster$/, mountCluster, 'Cluster', '#/cluster'],
  [/^#\/tenants$/, mountTenants, 'Tenants', '#/tenants'],
];

function render() {
  const hash = location.hash;
  if (hash && !hash.startsWith('#/')) return; // an in-page anchor, not a view
  stopView();
  stopView = () => {};
  showError(null);
  const signedIn = Boolean(session.key);
  $('sign-in-view').hidden = signedIn;
  $('view').hidden = !signedIn;
  $('nav').hidden = !signedIn;
  $('sign-out').hidden = !signedIn;
  $('live-status').hidden = !signedIn;
  const view = $('view');
  view.replaceChildren();
  if (!signedIn) {
    document.title = 'Sign in · RelayCluster admin';
    return;
  }
  const [pattern, mount, title, navHash] = ROUTES.find(([re]) => re.test(hash)) ?? ROUTES[ROUTES.length - 1];
  for (const a of $('nav').querySelectorAll('a')) {
    if (a.getAttribute('href') === navHash) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.title = `${title} · RelayCluster admin`;
  stopView = mount(view, hash.match(pattern)) ?? (() => {});
  view.querySelector('h1')?.focus({ preventScroll: true }); // a screen reader hears the new view's name
}

async function signOut(message) {
  session.clear();
  stopView();
  stopView = () => {};
  await stopLive();
  render();
  if (message) showError(message);
  $('admin-key').focus();
}

$('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = $('admin-key').value;
  try {
    await api('GET', '/admin/cluster', undefined, key); // any admin call: proves the key before it is kept
  } catch (err) {
    showError(err instanceof ApiError && (err.status === 401 || err.status === 403)
      ? 'That admin key is not valid. Nothing is shown without the right key.'
      : `Could not sign in: ${err.message}`);
    $('admin-key').select();
    return;
  }
  $('admin-key').value = '';
  session.set(key);
  if (!location.hash.startsWith('#/')) location.hash = '#/tenants'; else render();
});
$('sign-out').addEventListener('click', () => signOut());
whenUnauthorized(() => signOut('The admin key is no longer accepted: sign in again.'));
onLiveStatus((text) => { $('live-status').textContent = text; });
window.addEventListener('hashchange', render);
render();
