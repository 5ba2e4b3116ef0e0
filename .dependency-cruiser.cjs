/**
 * The architecture of lib/, checked by `npm test` (test/architecture.test.ts): domain folders
 * that depend only downwards, no import cycles, nothing unused.
 *
 *   service ─┬─> mesh ─────────┐
 *            ├─> registration ─┼─> core
 *            ├─> gateway ──────┤
 *   consul ──┼─> mesh          │
 *            └─> registration ─┘
 *   etcd ────> registration, core        pulumi ──> core
 */
const DOMAINS = {
  core: [],
  registration: ['core'],
  mesh: ['core'],
  etcd: ['core', 'registration'],
  consul: ['core', 'registration', 'mesh'],
  service: ['core', 'registration', 'mesh', 'gateway'],
  pulumi: ['core'],
  // lib/gateway/imports: classes generated from the Gateway API CRDs (tools/import-crds.sh).
  gateway: ['core'],
};

const domainRules = Object.entries(DOMAINS).map(([domain, allowed]) => ({
  name: `${domain}-depends-only-on-${allowed.join('-') || 'itself'}`,
  severity: 'error',
  from: { path: `^lib/${domain}/` },
  to: { path: '^lib/', pathNot: [`^lib/(${[domain, ...allowed].join('|')})/`] },
}));

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    { name: 'no-orphans', severity: 'error', from: { orphan: true, path: '^lib/', pathNot: '^lib/index\\.ts$' }, to: {} },
    { name: 'no-index-inside', comment: 'lib/index.ts is the public API: nothing inside lib/ goes through it', severity: 'error', from: { path: '^lib/' }, to: { path: '^lib/index\\.ts$' } },
    { name: 'files-live-in-a-domain', severity: 'error', from: { path: '^lib/[^/]+\\.ts$', pathNot: '^lib/index\\.ts$' }, to: {} },
    ...domainRules,
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
